import { createHash } from 'node:crypto';
import { AFFINITY_WALK } from '@strata/policy-engine';

/**
 * The Lua scripts behind the Redis state store. Each runs atomically inside Redis, so
 * a decision is one round trip and no client ever reads, modifies and writes back.
 *
 * Every key starts with KEYS[1], the prefix in braces, so all of them hash to one slot:
 * - `P:node:<id>` hash: the node's reported figures, `inFlight`, `epoch` (new at each
 *   registration) and `indexServiceMs` (its own estimate, or the fleet's median).
 * - `P:expiry` sorted set: every live node by the time its heartbeat runs out.
 * - `P:leases` sorted set: every reservation, `<random token>|<epoch>|<node id>`, by its deadline.
 * - The index (sorted sets over the eligible compute nodes, E, and those with room, F):
 *   `P:eligible` (E, by id), `P:free` (F, by id), and F scored by what each rule compares:
 *   `P:by-in-flight`, `P:by-delay`, `P:by-load`, `P:by-used`; `P:service-ms` holds the own
 *   estimates of E's nodes that have one (for the median).
 * - `P:members` hash and `P:version`: who is in the fleet, and a counter of its changes.
 *
 * Every script first sweeps: nodes past their expiry leave everything, leases past their
 * deadline give their count back. `now` is ARGV[1], in ms, or Redis's own clock when empty.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const source = PRELUDE + body;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

const PRELUDE = `
local P = KEYS[1]
local EXPIRY, LEASES, MEMBERS, VERSION = P .. ':expiry', P .. ':leases', P .. ':members', P .. ':version'
local ELIGIBLE, FREE, SERVICE = P .. ':eligible', P .. ':free', P .. ':service-ms'
local BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED = P .. ':by-in-flight', P .. ':by-delay', P .. ':by-load', P .. ':by-used'
local RANKED = {FREE, BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED}
local function node_key(id) return P .. ':node:' .. id end

local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Puts a node in the index sets its figures say it belongs to, scored by its live count.
local function reindex(id)
  local f = redis.call('HMGET', node_key(id), 'role', 'draining', 'slotsTotal', 'slotsUsed', 'inFlight', 'indexServiceMs', 'load1', 'cores')
  local slots, count = tonumber(f[3]), tonumber(f[5])
  if f[1] ~= 'compute' or f[2] ~= '0' then redis.call('ZREM', ELIGIBLE, id) else redis.call('ZADD', ELIGIBLE, 0, id) end
  if f[1] ~= 'compute' or f[2] ~= '0' or count >= slots then
    for _, index in ipairs(RANKED) do redis.call('ZREM', index, id) end
    return
  end
  redis.call('ZADD', FREE, 0, id)
  redis.call('ZADD', BY_IN_FLIGHT, count, id)
  redis.call('ZADD', BY_DELAY, (count + 1) * tonumber(f[6]) / slots, id)
  redis.call('ZADD', BY_LOAD, tonumber(f[7]) / math.max(1, tonumber(f[8])), id)
  redis.call('ZADD', BY_USED, math.max(tonumber(f[4]), count) - slots, id)
end

-- The same after only its count moved by delta (a reservation or a release): the sets that
-- rank by count, and the others only when it fills up or has room again. Answers its
-- epoch and address, which a reservation hands out.
local function count_moved(id, delta)
  local key = node_key(id)
  local count = redis.call('HINCRBY', key, 'inFlight', delta)
  local f = redis.call('HMGET', key, 'role', 'draining', 'slotsTotal', 'slotsUsed', 'indexServiceMs', 'load1', 'cores', 'epoch', 'address')
  if f[1] == 'compute' and f[2] == '0' then
    local slots = tonumber(f[3])
    if count >= slots then
      for _, index in ipairs(RANKED) do redis.call('ZREM', index, id) end
    else
      if count - delta >= slots then -- it had no room before
        redis.call('ZADD', FREE, 0, id)
        redis.call('ZADD', BY_LOAD, tonumber(f[6]) / math.max(1, tonumber(f[7])), id)
      end
      redis.call('ZADD', BY_IN_FLIGHT, count, id)
      redis.call('ZADD', BY_DELAY, (count + 1) * tonumber(f[5]) / slots, id)
      redis.call('ZADD', BY_USED, math.max(tonumber(f[4]), count) - slots, id)
    end
  end
  return count, f[8], f[9]
end

local function remove(id)
  redis.call('DEL', node_key(id))
  for _, index in ipairs({EXPIRY, ELIGIBLE, SERVICE, FREE, BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED}) do redis.call('ZREM', index, id) end
  if redis.call('HDEL', MEMBERS, id) == 1 then redis.call('INCR', VERSION) end
end

-- A lease's count goes back to its node, unless the node left or registered anew since.
local function give_back(lease)
  local epoch, id = string.match(lease, '^[^|]*|([^|]*)|(.*)$')
  local key = node_key(id)
  local count = tonumber(redis.call('HGET', key, 'inFlight'))
  if count ~= nil and count > 0 and redis.call('HGET', key, 'epoch') == epoch then count_moved(id, -1) end
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now)) do remove(id) end
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)) do
  redis.call('ZREM', LEASES, lease)
  give_back(lease)
end
`;

/** ARGV: now, ttl ms, id, membership key, own service ms or '', then field/value pairs. */
export const HEARTBEAT = script(
  'heartbeat',
  `
local ttl, id, member, own = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local key = node_key(id)
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, 'inFlight', 0, 'epoch', redis.call('INCR', P .. ':epochs'))
end
redis.call('HDEL', key, 'serviceMs', 'functionServiceMs')
redis.call('HSET', key, unpack(ARGV, 6))
redis.call('ZADD', EXPIRY, now + ttl, id)
local service = tonumber(own)
if service ~= nil and redis.call('HGET', key, 'role') == 'compute' and redis.call('HGET', key, 'draining') == '0' then
  redis.call('ZADD', SERVICE, own, id)
else
  redis.call('ZREM', SERVICE, id)
end
if service == nil then
  -- No history: the fleet's (lower) median, not a penalty; 1 when nobody has one.
  local known = redis.call('ZCARD', SERVICE)
  service = 1
  if known > 0 then
    local middle = math.floor((known - 1) / 2)
    service = tonumber(redis.call('ZRANGE', SERVICE, middle, middle, 'WITHSCORES')[2])
  end
end
redis.call('HSET', key, 'indexServiceMs', service)
if redis.call('HGET', MEMBERS, id) ~= member then
  redis.call('HSET', MEMBERS, id, member)
  redis.call('INCR', VERSION)
end
reindex(id)
return 1
`,
);

/** ARGV: now, id. */
export const DEREGISTER = script('deregister', `remove(ARGV[2])\nreturn 1\n`);

/** ARGV: now. Every live node's hash, flat, in expiry order (the client sorts them by id). */
export const LIVE_NODES = script(
  'live-nodes',
  `
local nodes = {}
for _, id in ipairs(redis.call('ZRANGE', EXPIRY, 0, -1)) do nodes[#nodes + 1] = redis.call('HGETALL', node_key(id)) end
return nodes
`,
);

/** ARGV: now, the version the caller knows (or ''). {version} while unchanged, else {version, members flat}. */
export const MEMBERSHIP = script(
  'membership',
  `
local version = tonumber(redis.call('GET', VERSION) or '0')
if ARGV[2] == tostring(version) then return {version} end
return {version, redis.call('HGETALL', MEMBERS)}
`,
);

/** ARGV: now, lease. Gives the lease's count back once; nothing if it already ran out. */
export const RELEASE = script(
  'release',
  `
if redis.call('ZREM', LEASES, ARGV[2]) == 1 then give_back(ARGV[2]) end
return 1
`,
);

/**
 * The twin of applySelection and applyIndexed in the policy engine.
 * ARGV: now, lease ms, rule, cursor, sample, quantile, hash, step seed, then three
 * counted lists: draws, excluded ids, candidate ids; then one limit per candidate; last,
 * a random token that makes the lease id unguessable (another client cannot release it).
 * Returns {1, node id, in flight after, lease, address}, or {0} when nothing has room.
 */
export const RESERVE = script(
  'reserve',
  `
local lease_ms, rule, cursor = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local sample, quantile, hash, step_seed = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local at = 9
local function list()
  local items = {}
  for i = 1, tonumber(ARGV[at]) do items[i] = ARGV[at + i] end
  at = at + #items + 1
  return items
end
local draws, exclude, candidates = list(), list(), list()
local excluded = {}
for _, id in ipairs(exclude) do excluded[id] = true end

-- The ranks in a sorted set of its excluded members, ascending.
local function excluded_ranks(index)
  local ranks = {}
  for _, id in ipairs(exclude) do
    local rank = redis.call('ZRANK', index, id)
    if rank then ranks[#ranks + 1] = rank end
  end
  table.sort(ranks)
  return ranks
end
-- The member at rank r once the excluded are taken out, and its score.
local function at_rank(index, r, ranks)
  for _, e in ipairs(ranks) do if e <= r then r = r + 1 else break end end
  local found = redis.call('ZRANGE', index, r, r, 'WITHSCORES')
  return found[1], tonumber(found[2])
end
-- The lowest-scored member that is not excluded (ties: the lowest id).
local function first_of(index)
  for _, id in ipairs(redis.call('ZRANGE', index, 0, #exclude)) do
    if not excluded[id] then return id end
  end
  return nil
end
local function size(index, ranks) return redis.call('ZCARD', index) - #ranks end
local function in_flight(id) return tonumber(redis.call('ZSCORE', BY_IN_FLIGHT, id)) end
local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end

local chosen
if rule == 'in-order' or rule == 'rotate' or rule == 'fewest-in-flight' then
  local n = #candidates
  -- the candidate's in-flight count while it is live and under its limit, else nil
  local function room(i)
    local count = tonumber(redis.call('HGET', node_key(candidates[i]), 'inFlight'))
    if count ~= nil and count < tonumber(ARGV[at + i - 1]) then return count end
    return nil
  end
  local function first_with_room(from)
    for i = from, n do if room(i) then return i end end
    return nil
  end
  local index
  if rule == 'in-order' then
    index = first_with_room(1)
  elseif rule == 'rotate' then
    local start = (redis.call('INCR', P .. ':cursor:' .. cursor) - 1) % n
    for step = 0, n - 1 do
      local i = (start + step) % n + 1
      if room(i) then index = i break end
    end
  else
    local sampled, fewest = math.min(sample, n), nil
    for i = 1, sampled do
      local count = room(i)
      if count ~= nil and (fewest == nil or count < fewest) then index, fewest = i, count end
      if fewest == 0 then break end -- an idle candidate: none after it can be chosen over it
    end
    if index == nil then index = first_with_room(sampled + 1) end
  end
  if index then chosen = candidates[index] end
elseif rule == 'least-outstanding' then
  chosen = first_of(BY_IN_FLIGHT)
elseif rule == 'least-expected-delay' then
  chosen = first_of(BY_DELAY)
elseif rule == 'least-load' then
  chosen = first_of(BY_LOAD)
elseif rule == 'most-free-slots' then
  chosen = first_of(BY_USED)
elseif rule == 'lowest-id' then
  local ranks = excluded_ranks(ELIGIBLE)
  if size(ELIGIBLE, ranks) > 0 then chosen = at_rank(ELIGIBLE, 0, ranks) end
elseif rule == 'round-robin' then
  local counter = redis.call('INCR', P .. ':cursor:' .. cursor)
  local ranks = excluded_ranks(ELIGIBLE)
  local n = size(ELIGIBLE, ranks)
  if n > 0 then
    local start = at_rank(ELIGIBLE, (counter - 1) % n, ranks)
    if redis.call('ZSCORE', FREE, start) then
      chosen = start
    else
      -- the next node with room after it in id order, wrapping
      for _, id in ipairs(redis.call('ZRANGEBYLEX', FREE, '(' .. start, '+', 'LIMIT', 0, #exclude + 1)) do
        if not excluded[id] then chosen = id break end
      end
      if chosen == nil then chosen = first_of(FREE) end
    end
  end
elseif rule == 'power-of-d' or rule == 'prequal' then
  local ranks = excluded_ranks(FREE)
  local m = size(FREE, ranks)
  local drawn = {}
  if m > 0 then
    for i, u in ipairs(draws) do drawn[i] = at_rank(FREE, math.min(m - 1, math.floor(tonumber(u) * m)), ranks) end
  end
  if rule == 'power-of-d' then
    local fewest
    for _, id in ipairs(drawn) do
      local count = in_flight(id)
      if fewest == nil or count < fewest then chosen, fewest = id, count end
    end
  elseif m > 0 then
    local _, threshold = at_rank(BY_IN_FLIGHT, math.floor(quantile * (m - 1)), excluded_ranks(BY_IN_FLIGHT))
    local best_count, best_service, best_hot
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
  end
elseif rule == 'hash-affinity' then
  local ranks = excluded_ranks(ELIGIBLE)
  local n = size(ELIGIBLE, ranks)
  if n > 0 then
    local home, step = hash % n, 1
    if n > 2 then
      step = 1 + step_seed % (n - 1)
      while gcd(step, n) ~= 1 do if step == n - 1 then step = 1 else step = step + 1 end end
    end
    for i = 0, math.min(n, ${AFFINITY_WALK}) - 1 do
      local id = at_rank(ELIGIBLE, (home + i * step) % n, ranks)
      if redis.call('ZSCORE', FREE, id) then chosen = id break end
    end
    if chosen == nil then chosen = first_of(BY_IN_FLIGHT) end
  end
else
  return redis.error_reply('unknown selection rule ' .. tostring(rule))
end

if chosen == nil then return {0} end
local count, epoch, address = count_moved(chosen, 1)
local lease = ARGV[#ARGV] .. '|' .. epoch .. '|' .. chosen
redis.call('ZADD', LEASES, now + lease_ms, lease)
return {1, chosen, count, lease, address}
`,
);

export const ALL_SCRIPTS = [HEARTBEAT, DEREGISTER, LIVE_NODES, MEMBERSHIP, RELEASE, RESERVE];
