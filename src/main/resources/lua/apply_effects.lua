-- Applies what the rules decided for a wave of events (threshold windows, timers, actions), each atomically, and
-- marks done the events that leave nothing to make durable. Idempotent for a replay.
-- ARGV: prefix, state TTL (ms), then per event:
--   messageId, dedup key, subject, time (ms), replay '1'|'0', signals pending '1'|'0', then the counts of thresholds, cancels,
--   arms and actions, then those items:
--     threshold: ruleId, key, window (ms), count, cooldown (ms), signalId, member
--     cancel:    ruleId
--     arm:       ruleId, due (ms), rearm '1'|'0', payload
--     action:    scope 'S'ession|'T'raits, name, operation 'I'ncrement|'S'et, value as JSON
-- Returns, per event, the indexes (0-based) of the thresholds that tripped, or { 'error', message }.
local P, ttl = ARGV[1], tonumber(ARGV[2])

local function count_window(check, now)
  local window = P .. 'th:' .. check.ruleId .. ':' .. check.key
  -- The member is the event's messageId, so a replayed event is counted once. Members older than the window are
  -- trimmed only when they could make the count, which keeps the set within the count at one call in most events.
  redis.call('ZADD', window, int(now), check.member)
  local counted = redis.call('ZCARD', window)
  if counted >= check.count then
    redis.call('ZREMRANGEBYSCORE', window, '-inf', int(now - check.windowMs))
    counted = redis.call('ZCARD', window)
  end
  redis.call('PEXPIRE', window, int(check.windowMs))
  if counted < check.count then return false end
  local cooldown = P .. 'cd:' .. check.ruleId .. ':' .. check.key
  local holder = redis.call('GET', cooldown)
  if not holder then
    redis.call('SET', cooldown, check.signalId, 'PX', int(check.cooldownMs))
    return true
  end
  return holder == check.signalId -- this very event tripped it before a crash: raise the same signal again
end

local function apply(mid, dedupKey, subject, now, replay, pending, thresholds, cancels, arms, actions)
  -- The user may have been identified since this event's state was read (an identify on another partition merged
  -- the anonymous state into the user's): follow the link so that nothing is left on the anonymous subject.
  if string.sub(subject, 1, 2) == 'a:' then
    local user = redis.call('GET', P .. 'id:' .. string.sub(subject, 3))
    if user then subject = 'u:' .. user end
  end

  local tripped = {}
  for index, check in ipairs(thresholds) do
    if count_window(check, now) then tripped[#tripped + 1] = index - 1 end
  end

  for _, rule in ipairs(cancels) do
    local member = rule .. '|' .. subject
    redis.call('ZREM', P .. 'timers', member)
    redis.call('DEL', P .. 'tp:' .. member)
    redis.call('SREM', P .. 'ut:' .. subject, rule)
  end
  for _, arm in ipairs(arms) do
    local member = arm.ruleId .. '|' .. subject
    if arm.rearm or not redis.call('ZSCORE', P .. 'timers', member) then
      redis.call('ZADD', P .. 'timers', int(arm.dueMs), member)
      redis.call('HSET', P .. 'tp:' .. member, 'payload', arm.payload, 'due', int(arm.dueMs))
      redis.call('SADD', P .. 'ut:' .. subject, arm.ruleId)
    end
  end

  -- Increments are not idempotent, so a replay (whose first run may have applied them) skips every action.
  if not replay then
    for _, action in ipairs(actions) do
      local key, field = P .. 's:' .. subject, (action.scope == 'S' and 'a.' or 't.') .. action.name
      if action.operation == 'I' then
        -- Values are stored as JSON; a JSON number reads as a Lua number.
        local current = tonumber(redis.call('HGET', key, field) or '0') or 0
        redis.call('HSET', key, field, int_or_float(current + (tonumber(action.value) or 0)))
      else
        redis.call('HSET', key, field, action.value)
      end
      redis.call('PEXPIRE', key, int(ttl))
    end
  end

  if #tripped == 0 and not pending then
    redis.call('HSET', P .. 'dd:' .. dedupKey, mid, 'd') -- nothing to make durable: done now
  end
  return tripped
end

local results = {}
local i = 3
while i <= #ARGV do
  local mid, dedupKey, subject, now, replay, pending = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]),
    ARGV[i + 4] == '1', ARGV[i + 5] == '1'
  local nThresholds, nCancels, nArms, nActions = tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]),
    tonumber(ARGV[i + 9])
  i = i + 10
  local thresholds, cancels, arms, actions = {}, {}, {}, {}
  for k = 1, nThresholds do
    thresholds[k] = { ruleId = ARGV[i], key = ARGV[i + 1], windowMs = tonumber(ARGV[i + 2]),
      count = tonumber(ARGV[i + 3]), cooldownMs = tonumber(ARGV[i + 4]), signalId = ARGV[i + 5], member = ARGV[i + 6] }
    i = i + 7
  end
  for k = 1, nCancels do
    cancels[k] = ARGV[i]
    i = i + 1
  end
  for k = 1, nArms do
    arms[k] = { ruleId = ARGV[i], dueMs = tonumber(ARGV[i + 1]), rearm = ARGV[i + 2] == '1', payload = ARGV[i + 3] }
    i = i + 4
  end
  for k = 1, nActions do
    actions[k] = { scope = ARGV[i], name = ARGV[i + 1], operation = ARGV[i + 2], value = ARGV[i + 3] }
    i = i + 4
  end
  local ok, result = pcall(apply, mid, dedupKey, subject, now, replay, pending, thresholds, cancels, arms, actions)
  results[#results + 1] = ok and result or { 'error', failure(result) }
end
return results
