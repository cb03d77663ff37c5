-- The node of F with the least (in flight + 1) x service time / slots.
return first_of(BY_DELAY)
