import { createHash } from 'node:crypto';

/**
 * The Lua scripts behind the Redis state store. Each runs atomically inside Redis, so
 * a decision is one round trip and no client ever reads, modifies and writes back.
 * The node hash keeps `inFlight` and `epoch` beside the node's reported figures, so
 * the counts expire with the heartbeat.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** KEYS: registry set, node hash, epoch counter. ARGV: ttl ms, node id, then field/value pairs. */
export const HEARTBEAT = script(
  'heartbeat',
  `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'inFlight', 0, 'epoch', redis.call('INCR', KEYS[3]))
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[1], ARGV[2])
return 1
`,
);

/** KEYS: registry set. ARGV: node key prefix. Returns each live node's hash, flat; drops expired ids. */
export const LIVE_NODES = script(
  'live-nodes',
  `
local nodes = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then
    redis.call('SREM', KEYS[1], id)
  else
    nodes[#nodes + 1] = fields
  end
end
return nodes
`,
);

/**
 * The twin of applySelection in the policy engine.
 * KEYS: one node hash per candidate, then the cursor (rule 'rotate' only).
 * ARGV: rule, sample, then one limit per candidate.
 * Returns {index (1-based), in-flight after, epoch}, or {0} when no candidate has room.
 */
export const RESERVE = script(
  'reserve',
  `
local rule, sample = ARGV[1], tonumber(ARGV[2])
local n = #ARGV - 2
-- the candidate's in-flight count while it is live and under its limit, else nil
local function room(i)
  local count = tonumber(redis.call('HGET', KEYS[i], 'inFlight'))
  if count ~= nil and count < tonumber(ARGV[i + 2]) then return count end
  return nil
end
local function first_with_room(from)
  for i = from, n do
    if room(i) then return i end
  end
  return nil
end

local chosen
if rule == 'in-order' then
  chosen = first_with_room(1)
elseif rule == 'rotate' then
  local start = (redis.call('INCR', KEYS[n + 1]) - 1) % n
  for step = 0, n - 1 do
    local i = (start + step) % n + 1
    if room(i) then chosen = i break end
  end
elseif rule == 'fewest-in-flight' then
  local sampled, fewest = math.min(sample, n), nil
  for i = 1, sampled do
    local count = room(i)
    if count ~= nil and (fewest == nil or count < fewest) then chosen, fewest = i, count end
    if fewest == 0 then break end -- an idle candidate: none after it can be chosen over it
  end
  if chosen == nil then chosen = first_with_room(sampled + 1) end
else
  return redis.error_reply('unknown selection rule ' .. tostring(rule))
end

if chosen == nil then return {0} end
local count = redis.call('HINCRBY', KEYS[chosen], 'inFlight', 1)
return {chosen, count, tonumber(redis.call('HGET', KEYS[chosen], 'epoch'))}
`,
);

/** KEYS: node hash. ARGV: epoch of the reservation. Never below zero; nothing if the node re-registered or is gone. */
export const RELEASE = script(
  'release',
  `
local count = tonumber(redis.call('HGET', KEYS[1], 'inFlight'))
if count == nil or count <= 0 or redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
return redis.call('HINCRBY', KEYS[1], 'inFlight', -1)
`,
);

export const ALL_SCRIPTS = [HEARTBEAT, LIVE_NODES, RESERVE, RELEASE];
