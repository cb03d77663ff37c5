-- Home E[hash mod |E|], then a walk by a step co-prime to |E|: the first of AFFINITY_WALK steps in F; else as least-outstanding.
local ranks = excluded_ranks(ELIGIBLE)
local n = size(ELIGIBLE, ranks)
if n == 0 then return nil end
local home, step = hash % n, 1
if n > 2 then
  step = 1 + step_seed % (n - 1)
  while gcd(step, n) ~= 1 do if step == n - 1 then step = 1 else step = step + 1 end end
end
for i = 0, math.min(n, AFFINITY_WALK) - 1 do
  local id = at_rank(ELIGIBLE, (home + i * step) % n, ranks)
  if redis.call('ZSCORE', FREE, id) then return id end
end
return first_of(BY_IN_FLIGHT)
