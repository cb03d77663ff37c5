-- The node of F with the fewest in flight.
return first_of(BY_IN_FLIGHT)
