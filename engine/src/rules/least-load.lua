-- The node of F with the lowest one-minute load per core.
return first_of(BY_LOAD)
