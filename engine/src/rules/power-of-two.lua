-- One node of F per draw (rank floor(u |F|)); the one with the fewest in flight, ties to the earlier draw.
local drawn = draw_free()
local counts = in_flight(drawn)
local chosen, fewest
for i, id in ipairs(drawn) do
  if fewest == nil or counts[i] < fewest then chosen, fewest = id, counts[i] end
end
return chosen
