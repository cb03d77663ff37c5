-- Advance the shared counter; E[counter - 1 mod |E|], or the next node with room after it in id order, wrapping.
local counter = redis.call('INCR', P .. ':cursor:' .. cursor)
local ranks = excluded_ranks(ELIGIBLE)
local n = size(ELIGIBLE, ranks)
if n == 0 then return nil end
local start = at_rank(ELIGIBLE, (counter - 1) % n, ranks)
if redis.call('ZSCORE', FREE, start) then return start end
for _, id in ipairs(redis.call('ZRANGEBYLEX', FREE, '(' .. start, '+', 'LIMIT', 0, #exclude + 1)) do
  if not excluded[id] then return id end
end
return first_of(FREE)
