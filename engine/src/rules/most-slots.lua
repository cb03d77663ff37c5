-- The node of F with the most free slots (the larger of slots in use and in flight).
return first_of(BY_USED)
