-- The same draws; hot above the quantile of F's counts. The coldest fastest, or if all are hot the least busy.
local drawn, m = draw_free()
if m == 0 then return nil end
local _, threshold = at_rank(BY_IN_FLIGHT, math.floor(quantile * (m - 1)), excluded_ranks(BY_IN_FLIGHT), true)
local chosen, best_count, best_service, best_hot
for _, id in ipairs(drawn) do
  local f = redis.call('HMGET', node_key(id), 'inFlight', 'indexServiceMs')
  local count, service = tonumber(f[1]), tonumber(f[2])
  local hot = count > threshold
  local better
  if chosen == nil then better = true
  elseif hot ~= best_hot then better = not hot
  elseif hot then better = count < best_count or (count == best_count and service < best_service)
  else better = service < best_service or (service == best_service and count < best_count) end
  if better then chosen, best_count, best_service, best_hot = id, count, service, hot end
end
return chosen
