import { createHash } from 'node:crypto';
import { AFFINITY_WALK, INDEXED_RULES } from '@strata/policy-engine';

/**
 * Each indexed rule's Lua (engine/src/rules/<rule>.lua) as the reserve script's function `pick`,
 * only the asked one's made (a chain of ifs: a closure per rule per call costs Redis time).
 */
const INDEXED_RULE_FUNCTIONS = `${Object.entries(INDEXED_RULES)
  .map(([name, rule]) => `if rule == '${name}' then pick = function()\n${rule.lua}\nend`)
  .join('\nelse')}\nend`;

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
 * - `P:storage` sorted set: the live storage nodes, by id (tier 3 reads these and no others).
 * - `P:storage-view` hash: `version`, a counter of changes to the storage nodes' hashes, and
 *   `json`, those hashes as one JSON text (built at `builtAt`), built at the first read after a change or after 3 s: the view a
 *   compute node's heartbeat answers costs one HMGET, and is not sent while the node has it
 *   (its version, `<version>@<builtAt>`, names one build, even across a failover).
 * - `P:members` hash and `P:version`: who is in the fleet, and a counter of its changes;
 *   `P:changes` list: the last CHANGE_LOG changes, one per version, `<id length>|<id><member>`
 *   (member empty when the node left), so that a reader catches up in O(changes).
 * - `P:waiting` sorted set: the queue's places (tier 1, while every node is full), by when each
 *   waiter arrived; `P:waiting-holds` the same places by when each runs out.
 * - `P:room` integer: the free slots of E's nodes (each `slotsTotal - inFlight`, at least 0):
 *   what a cell has left, which tier 0 reads (common/state/cells.ts) and a reservation
 *   answers with. Kept by the difference each change makes, from the node's own fields
 *   before and after, so a reservation writes no field of the node's but its count.
 *
 * Every script first sweeps: nodes past their expiry leave everything, leases past their
 * deadline give their count back. `now` is ARGV[1], in ms, or Redis's own clock when empty.
 */
/** How many membership changes the log keeps: a reader further behind reads the whole membership once. */
export const CHANGE_LOG = 1024;

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
local ELIGIBLE, FREE, SERVICE, STORAGE = P .. ':eligible', P .. ':free', P .. ':service-ms', P .. ':storage'
local CHANGES, ROOM = P .. ':changes', P .. ':room'
local STORAGE_VIEW = P .. ':storage-view'
local BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED = P .. ':by-in-flight', P .. ':by-delay', P .. ':by-load', P .. ':by-used'
local RANKED = {FREE, BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED}
local function node_key(id) return P .. ':node:' .. id end
-- What count_moved reads of a node's record, and give_back with it (inFlight last).
local RECORD = {'role', 'draining', 'slotsTotal', 'slotsUsed', 'indexServiceMs', 'load1', 'cores', 'epoch', 'address', 'inFlight'}

local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A node's share of P:room, from its fields (0 for a node that is not an eligible compute node, or gone).
local function room_of(key)
  local f = redis.call('HMGET', key, 'role', 'draining', 'slotsTotal', 'inFlight')
  if f[1] ~= 'compute' or f[2] ~= '0' then return 0 end
  return math.max(0, tonumber(f[3]) - tonumber(f[4]))
end
-- Moves P:room by delta; answers what it holds after, or nil when it did not move (no call made).
local function room_moved(delta)
  if delta ~= 0 then return redis.call('INCRBY', ROOM, delta) end
  return nil
end

-- A storage node's hash changed, or the set of them: the next view is built anew, under a new version (answered).
local function storage_changed()
  local version = redis.call('HINCRBY', STORAGE_VIEW, 'version', 1)
  redis.call('HDEL', STORAGE_VIEW, 'json')
  return version
end

-- The same after only its count moved by delta (a reservation or a release): the sets that
-- rank by count, and the others only when it fills up or has room again. f is the node's
-- record (RECORD's fields) if the caller read it already. Answers its count after, its epoch
-- and address, which a reservation hands out, and P:room after (nil if it did not move).
local function count_moved(id, delta, f)
  local key = node_key(id)
  f = f or redis.call('HMGET', key, unpack(RECORD))
  local count = redis.call('HINCRBY', key, 'inFlight', delta)
  local room
  if f[1] == 'storage' then storage_changed() end
  if f[1] == 'compute' and f[2] == '0' then
    local slots, used = tonumber(f[3]), tonumber(f[4])
    room = room_moved(math.max(0, slots - count) - math.max(0, slots - (count - delta)))
    if count >= slots then
      for _, index in ipairs(RANKED) do redis.call('ZREM', index, id) end
    else
      local had_room = count - delta < slots
      if not had_room then
        redis.call('ZADD', FREE, 0, id)
        redis.call('ZADD', BY_LOAD, tonumber(f[6]) / math.max(1, tonumber(f[7])), id)
      end
      redis.call('ZADD', BY_IN_FLIGHT, count, id)
      redis.call('ZADD', BY_DELAY, (count + 1) * tonumber(f[5]) / slots, id)
      if not had_room or math.max(used, count) ~= math.max(used, count - delta) then
        redis.call('ZADD', BY_USED, math.max(used, count) - slots, id)
      end
    end
  end
  return count, f[8], f[9], room
end

-- One membership change: the new version, and its entry in the log (member '' when the node left).
local function changed(id, member)
  redis.call('INCR', VERSION)
  redis.call('RPUSH', CHANGES, #id .. '|' .. id .. member)
  redis.call('LTRIM', CHANGES, -${CHANGE_LOG}, -1)
end

local function remove(id)
  room_moved(-room_of(node_key(id)))
  redis.call('DEL', node_key(id))
  for _, index in ipairs({EXPIRY, ELIGIBLE, SERVICE, FREE, BY_IN_FLIGHT, BY_DELAY, BY_LOAD, BY_USED}) do redis.call('ZREM', index, id) end
  if redis.call('ZREM', STORAGE, id) == 1 then storage_changed() end
  if redis.call('HDEL', MEMBERS, id) == 1 then changed(id, '') end
end

-- A lease's count goes back to its node, unless the node left or registered anew since.
local function give_back(lease)
  local epoch, id = string.match(lease, '^[^|]*|([^|]*)|(.*)$')
  local f = redis.call('HMGET', node_key(id), unpack(RECORD))
  local count = tonumber(f[10])
  if count ~= nil and count > 0 and f[8] == epoch then count_moved(id, -1, f) end
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now)) do remove(id) end
for _, lease in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)) do
  redis.call('ZREM', LEASES, lease)
  give_back(lease)
end
`;

/** The storage view's reader, for the scripts that answer it (only these write its cache: no dispatcher needs HSET). */
const STORAGE_VIEW_READER = `
-- {version} when the caller has this version of the storage view already (it passed it), else
-- {version, the view}: the live storage nodes' hashes as a JSON array of flat arrays, in id
-- order, built once after each change and kept in STORAGE_VIEW. A view built more than
-- STORAGE_VIEW_MAX_AGE_MS ago counts as changed: a writer that does not mark its changes (a
-- storage node on an older script, during a rolling deploy) cannot freeze it.
-- The version answered is the counter and the time the view was built, '<counter>@<builtAt>':
-- a replica promoted after a failover counts on from an older counter, and the view it builds
-- under a number the old primary had used carries another time, so it is never taken for the one a caller holds.
local STORAGE_VIEW_MAX_AGE_MS = 3000
local function storage_view(known)
  local held = redis.call('HMGET', STORAGE_VIEW, 'version', 'json', 'builtAt')
  local version, view, built = held[1] or '0', held[2], held[3]
  if view and (not built or now - tonumber(built) > STORAGE_VIEW_MAX_AGE_MS) then
    version, view = tostring(storage_changed()), nil
  end
  if view and version .. '@' .. built == known then return {known} end
  if not view then
    local nodes = {}
    for _, sid in ipairs(redis.call('ZRANGE', STORAGE, 0, -1)) do nodes[#nodes + 1] = redis.call('HGETALL', node_key(sid)) end
    view, built = #nodes == 0 and '[]' or cjson.encode(nodes), now -- cjson writes an empty table as {}
    redis.call('HSET', STORAGE_VIEW, 'json', view, 'builtAt', built)
  end
  return {version .. '@' .. built, view}
end
`;

/**
 * The heartbeat's work, which HEARTBEAT and HEARTBEAT_STORAGE share; the report's field/value
 * pairs are ARGV[6] to ARGV[FIELDS_END]. It reads the node's record once and writes only what
 * moved: the index entries whose score changed, the sets it joins or leaves, the storage view
 * only for a storage node.
 */
const HEARTBEAT_BODY = `
local ttl, id, member, own = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local key = node_key(id)
-- The record before this heartbeat (false where it has no such field: all of them for a new node).
local old = redis.call('HMGET', key, 'role', 'draining', 'slotsTotal', 'slotsUsed', 'inFlight', 'indexServiceMs', 'load1', 'cores', 'epoch', 'serviceMs', 'functionServiceMs', 'heartbeatAt')
local fields = {}
for i = 6, FIELDS_END - 1, 2 do fields[ARGV[i]] = ARGV[i + 1] end
-- A field after this heartbeat: the report's, else the record's.
local function now_field(name, i)
  local value = fields[name]
  if value == nil then return old[i] end
  return value
end
local is_new = not old[9] and redis.call('EXISTS', key) == 0
-- Once every REINDEX_MS of the node's own clock (at a moment of its own, from its epoch, so
-- that the fleet's are spread), a heartbeat writes all its node's index entries, as a new
-- node's does: an entry left wrong (a script stopped half way, a replica promoted with an
-- older copy) lasts that long at most, not until the node's figures next move it.
local REINDEX_MS = 60000
local reindex = is_new
if not reindex and old[12] and fields.heartbeatAt then
  local offset = (tonumber(old[9]) or 0) * 7919 % REINDEX_MS
  local before, after = tonumber(old[12]), tonumber(fields.heartbeatAt)
  reindex = before == nil or after == nil or math.floor((after + offset) / REINDEX_MS) ~= math.floor((before + offset) / REINDEX_MS)
end
-- The optional figures the record has and this report has not.
local stale = {}
if old[10] and fields.serviceMs == nil then stale[#stale + 1] = 'serviceMs' end
if old[11] and fields.functionServiceMs == nil then stale[#stale + 1] = 'functionServiceMs' end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
redis.call('ZADD', EXPIRY, now + ttl, id)

local role, draining = now_field('role', 1), now_field('draining', 2)
local eligible = role == 'compute' and draining == '0'
local service = tonumber(own)
if service ~= nil and eligible then
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
-- A new record starts with the fields a sampling decision reads of each probe: a small hash is
-- one list in Redis, searched from its start, so these are found first.
local writes = {'indexServiceMs', service}
if is_new then writes = {'inFlight', 0, 'indexServiceMs', service, 'epoch', redis.call('INCR', P .. ':epochs')} end
for i = 6, FIELDS_END do writes[#writes + 1] = ARGV[i] end
redis.call('HSET', key, unpack(writes))
if redis.call('HGET', MEMBERS, id) ~= member then
  redis.call('HSET', MEMBERS, id, member)
  changed(id, member)
end
if role == 'storage' then
  redis.call('ZADD', STORAGE, 0, id)
  storage_changed()
elseif old[1] == 'storage' or reindex then
  if redis.call('ZREM', STORAGE, id) == 1 then storage_changed() end
end

-- The index: the sets the node's figures say it belongs to, scored by its live count. Before
-- this heartbeat it was in those its record said (every script keeps them so): only what
-- moved is written, unless it reindexes (then as if it had been in none).
local count = tonumber(old[5]) or 0
local slots = tonumber(now_field('slotsTotal', 3))
local was_eligible = old[1] == 'compute' and old[2] == '0'
local had_room = was_eligible and count < tonumber(old[3]) and not reindex
local has_room = eligible and count < slots
if eligible and (not was_eligible or reindex) then redis.call('ZADD', ELIGIBLE, 0, id) end
if not eligible and (was_eligible or reindex) then redis.call('ZREM', ELIGIBLE, id) end
if not has_room then
  if had_room or reindex then
    for _, index in ipairs(RANKED) do redis.call('ZREM', index, id) end
  end
else
  local delay = (count + 1) * service / slots
  local load = tonumber(now_field('load1', 7)) / math.max(1, tonumber(now_field('cores', 8)))
  local over = math.max(tonumber(now_field('slotsUsed', 4)), count) - slots
  if not had_room then
    redis.call('ZADD', FREE, 0, id)
    redis.call('ZADD', BY_IN_FLIGHT, count, id)
  end
  local old_slots = tonumber(old[3])
  if not had_room or delay ~= (count + 1) * tonumber(old[6]) / old_slots then redis.call('ZADD', BY_DELAY, delay, id) end
  if not had_room or load ~= tonumber(old[7]) / math.max(1, tonumber(old[8])) then redis.call('ZADD', BY_LOAD, load, id) end
  if not had_room or over ~= math.max(tonumber(old[4]), count) - old_slots then redis.call('ZADD', BY_USED, over, id) end
end
local room_before = 0
if was_eligible then room_before = math.max(0, tonumber(old[3]) - count) end
local room_after = 0
if eligible then room_after = math.max(0, slots - count) end
room_moved(room_after - room_before)
`;

/** ARGV: now, ttl ms, id, membership key, own service ms or '', then field/value pairs. */
export const HEARTBEAT = script('heartbeat', `local FIELDS_END = #ARGV\n${HEARTBEAT_BODY}return 1\n`);

/**
 * The heartbeat, answering the storage view (as STORAGE_NODES) unless the caller has it: a
 * compute node's one call an interval, its tier-3 view riding on its heartbeat's reply. ARGV
 * as HEARTBEAT, then the storage view's version the caller has (or '').
 */
export const HEARTBEAT_STORAGE = script(
  'heartbeat-storage',
  `local FIELDS_END = #ARGV - 1\n${HEARTBEAT_BODY}${STORAGE_VIEW_READER}return storage_view(ARGV[#ARGV])\n`,
);

/** ARGV: now. The cell's free slots (`P:room`), after the sweep: tier 0's look at a cell. */
export const ROOM_LEFT = script('room', `return tonumber(redis.call('GET', ROOM) or '0')\n`);

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

/**
 * ARGV: now, the storage view's version the caller has (or ''). {version} if that is the
 * current one, else {version, the live storage nodes' hashes as JSON (flat arrays, id order)}:
 * O(storage nodes) after a change, one GET otherwise, whatever the fleet.
 */
export const STORAGE_NODES = script('storage-nodes', `${STORAGE_VIEW_READER}return storage_view(ARGV[2])\n`);

/**
 * ARGV: now, the version the caller knows (or ''). {version, room} while unchanged;
 * {version, room, 0, changes} when the log still holds every change since (O(changes));
 * else {version, room, 1, members flat} (O(n): a new reader, or one that fell more than
 * CHANGE_LOG changes behind). room is `P:room`: a reader of the membership learns its
 * cell's free slots with it, for tier 0, at no extra call.
 */
export const MEMBERSHIP = script(
  'membership',
  `
local version = tonumber(redis.call('GET', VERSION) or '0')
local room = tonumber(redis.call('GET', ROOM) or '0')
local known = tonumber(ARGV[2])
if known == version then return {version, room} end
if known ~= nil and known < version then
  local logged = redis.call('LLEN', CHANGES)
  if version - known <= logged then return {version, room, 0, redis.call('LRANGE', CHANGES, known - version, -1)} end
end
return {version, room, 1, redis.call('HGETALL', MEMBERS)}
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

/** The queue's keys (see RESERVE), and a place taken out of it: RESERVE and DROP_PLACE share them. */
const QUEUE = `
local WAITING, HOLDS = P .. ':waiting', P .. ':waiting-holds'
local function leave_queue(id)
  redis.call('ZREM', WAITING, id)
  redis.call('ZREM', HOLDS, id)
end
`;

/**
 * The twin of applySelection and applyIndexed in the policy engine: the candidate rules
 * here, the indexed rules from the engine's table (INDEXED_RULES), each its own Lua.
 * ARGV: now, lease ms, rule, cursor, sample, quantile, hash, step seed, the queue place's
 * id (or ''), since and hold ms, then three counted lists: draws, excluded ids, candidate
 * ids; then one limit per candidate; last, a random token that makes the lease id
 * unguessable (another client cannot release it). Returns {1, node id, in flight after,
 * lease, address, room}, {0, room} when nothing has room, or {0, room, ahead} when the
 * caller queues; room is the cell's free slots after the decision (`P:room`), for tier 0.
 */
export const RESERVE = script(
  'reserve',
  `${QUEUE}
local lease_ms, rule, cursor = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local sample, quantile, hash, step_seed = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

-- The queue (a tier-1 caller's place, common/state/types.ts QueuePlace): with waiters ahead
-- of it, refused while they are as many as the free slots, and it keeps its place; the
-- first asks the rule, and keeps its place if every node is full.
local place = ARGV[9]
local queue, ahead = false, 0
local function wait(room)
  redis.call('ZADD', WAITING, ARGV[10], place)
  redis.call('ZADD', HOLDS, now + tonumber(ARGV[11]), place)
  return {0, room, ahead}
end
if place ~= '' then
  queue = redis.call('EXISTS', WAITING) == 1
  if queue then
    -- Every place that ran out goes before the count (100 a call, within unpack's limit):
    -- a burst of them given up at once must not count as waiters ahead.
    local gone
    repeat
      gone = redis.call('ZRANGEBYSCORE', HOLDS, '-inf', now, 'LIMIT', 0, 100)
      if #gone > 0 then
        redis.call('ZREM', WAITING, unpack(gone))
        redis.call('ZREM', HOLDS, unpack(gone))
      end
    until #gone < 100
    ahead = redis.call('ZCOUNT', WAITING, '-inf', '(' .. ARGV[10])
    if ahead > 0 then
      local free = tonumber(redis.call('GET', ROOM) or '0')
      if ahead >= free then return wait(free) end
    end
  end
end

local at = 12
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
-- The member at rank r once the excluded are taken out, and its score if with_score (Redis
-- writes a score as text: a cost per call that the rules that want only the member skip).
local function at_rank(index, r, ranks, with_score)
  for _, e in ipairs(ranks) do if e <= r then r = r + 1 else break end end
  if not with_score then return redis.call('ZRANGE', index, r, r)[1] end
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
-- The in-flight counts of nodes of F, one call for all of them.
local function in_flight(ids)
  if #ids == 0 then return {} end
  local counts = redis.call('ZMSCORE', BY_IN_FLIGHT, unpack(ids))
  for i, count in ipairs(counts) do counts[i] = tonumber(count) end
  return counts
end
local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end
-- The nodes of F at ranks floor(u x |F|), one per draw, and |F| (the excluded taken out).
local function draw_free()
  local ranks = excluded_ranks(FREE)
  local m = size(FREE, ranks)
  local drawn = {}
  if m > 0 then
    for i, u in ipairs(draws) do drawn[i] = at_rank(FREE, math.min(m - 1, math.floor(tonumber(u) * m)), ranks) end
  end
  return drawn, m
end
local AFFINITY_WALK = ${AFFINITY_WALK}

-- The indexed rules, each from its .lua file beside its TypeScript (engine/src/rules/).
local pick
${INDEXED_RULE_FUNCTIONS}

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
    if n > 0 then -- an empty list does not move the cursor
      local start = (redis.call('INCR', P .. ':cursor:' .. cursor) - 1) % n
      for step = 0, n - 1 do
        local i = (start + step) % n + 1
        if room(i) then index = i break end
      end
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
else
  if pick == nil then return redis.error_reply('unknown selection rule ' .. tostring(rule)) end
  chosen = pick()
end

local left
if chosen == nil then
  left = tonumber(redis.call('GET', ROOM) or '0')
  if place ~= '' and ahead >= left then return wait(left) end
end
-- Placed, or nothing fits it while there is room for others: its place goes, so as not to hold them back.
if queue then leave_queue(place) end
if chosen == nil then return {0, left} end
local count, epoch, address, room = count_moved(chosen, 1)
local lease = ARGV[#ARGV] .. '|' .. epoch .. '|' .. chosen
redis.call('ZADD', LEASES, now + lease_ms, lease)
return {1, chosen, count, lease, address, room or tonumber(redis.call('GET', ROOM) or '0')}
`,
);

/**
 * ARGV: now, a queue place's id. Takes the place out of this store's queue: a waiter placed
 * in another cell (common/state/cells.ts) gives up the places it holds in the cells it stood
 * in before, so that they do not count as waiters ahead there until their hold runs out.
 */
export const DROP_PLACE = script('drop-place', `${QUEUE}leave_queue(ARGV[2])\nreturn 1\n`);

/**
 * ARGV: now, the OSD map epoch, the placement map (JSON, nodes/storage/placement.ts). The
 * storage tier's placement map (tier 3 by locality), kept in \`P:placement\` unless the one
 * there is of a newer epoch, or of this epoch and the same (several storage agents publish;
 * one of the same epoch that differs replaces it, a manager's late view being corrected).
 * Answers the map's new version, or '' if it kept the one there. The version is a counter and
 * the time, as the storage view's: after a failover to a replica that missed a publish, the
 * counter repeats, and a reader holding that number for another map must not be told "current".
 */
export const PUBLISH_PLACEMENT = script(
  'publish-placement',
  `
local PLACEMENT = P .. ':placement'
local held = redis.call('HMGET', PLACEMENT, 'epoch', 'map')
local epoch = tonumber(ARGV[2])
if held[1] and (tonumber(held[1]) > epoch or (tonumber(held[1]) == epoch and held[2] == ARGV[3])) then return '' end
local version = redis.call('HINCRBY', PLACEMENT, 'count', 1) .. '@' .. now
redis.call('HSET', PLACEMENT, 'epoch', ARGV[2], 'map', ARGV[3], 'version', version)
return version
`,
);

/** ARGV: now, the placement map's version the caller has (or ''). {} if none is published, {version} if the caller's is current, else {version, map}. */
export const READ_PLACEMENT = script(
  'read-placement',
  `
local PLACEMENT = P .. ':placement'
local version = redis.call('HGET', PLACEMENT, 'version')
if not version then return {} end
if version == ARGV[2] then return {version} end
return {version, redis.call('HGET', PLACEMENT, 'map')}
`,
);

export const ALL_SCRIPTS = [
  PUBLISH_PLACEMENT,
  READ_PLACEMENT,
  HEARTBEAT,
  HEARTBEAT_STORAGE,
  DEREGISTER,
  LIVE_NODES,
  STORAGE_NODES,
  MEMBERSHIP,
  RELEASE,
  RESERVE,
  DROP_PLACE,
  ROOM_LEFT,
];
