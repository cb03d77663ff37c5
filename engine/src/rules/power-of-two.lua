-- One node of F per draw (rank floor(u |F|)); the one with the fewest in flight, ties to the earlier draw.
local chosen, fewest
for _, id in ipairs(draw_free()) do
  local count = in_flight(id)
  if fewest == nil or count < fewest then chosen, fewest = id, count end
end
return chosen
