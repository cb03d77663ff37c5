-- E's first node, whatever it carries.
local ranks = excluded_ranks(ELIGIBLE)
if size(ELIGIBLE, ranks) > 0 then return (at_rank(ELIGIBLE, 0, ranks)) end
return nil
