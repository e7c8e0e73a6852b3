-- Applies what the rules decided for one event: threshold windows, timers, actions. Idempotent for a replay.
-- ARGV: prefix, messageId, subject, time (ms), replay '1'|'0', match signals pending '1'|'0', dedup (ms),
--       state TTL (ms), effects JSON {thresholds, arms, cancels, actions}
-- Returns the indexes (comma-separated) of the thresholds that tripped.
local P, mid, subject = ARGV[1], ARGV[2], ARGV[3]
local now, replay, pending = tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6] == '1'
local dedup, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local effects = cjson.decode(ARGV[9])

-- The user may have been identified since this event's state was read (an identify on another partition merged
-- the anonymous state into the user's): follow the link so that nothing is left on the anonymous subject.
if string.sub(subject, 1, 2) == 'a:' then
  local user = redis.call('GET', P .. 'id:' .. string.sub(subject, 3))
  if user then subject = 'u:' .. user end
end

local tripped = {}
for i, check in ipairs(effects.thresholds) do
  local window = P .. 'th:' .. check.ruleId .. ':' .. check.key
  -- The member is the event's messageId, so a replayed event is counted once.
  redis.call('ZADD', window, int(now), check.member)
  redis.call('ZREMRANGEBYSCORE', window, '-inf', int(now - check.windowMs))
  redis.call('PEXPIRE', window, int(check.windowMs))
  if redis.call('ZCARD', window) >= check.count then
    local cooldown = P .. 'cd:' .. check.ruleId .. ':' .. check.key
    local holder = redis.call('GET', cooldown)
    if not holder then
      redis.call('SET', cooldown, check.signalId, 'PX', int(check.cooldownMs))
      table.insert(tripped, i - 1)
    elseif holder == check.signalId then
      table.insert(tripped, i - 1) -- this very event tripped it before a crash: raise the same signal again
    end
  end
end

for _, rule in ipairs(effects.cancels) do
  local member = rule .. '|' .. subject
  redis.call('ZREM', P .. 'timers', member)
  redis.call('DEL', P .. 'tp:' .. member)
  redis.call('SREM', P .. 'ut:' .. subject, rule)
end
for _, arm in ipairs(effects.arms) do
  local member = arm.ruleId .. '|' .. subject
  if arm.rearm or not redis.call('ZSCORE', P .. 'timers', member) then
    redis.call('ZADD', P .. 'timers', int(arm.dueMs), member)
    redis.call('HSET', P .. 'tp:' .. member, 'payload', arm.payload, 'due', int(arm.dueMs))
    redis.call('SADD', P .. 'ut:' .. subject, arm.ruleId)
  end
end

-- Increments are not idempotent, so a replay (whose first run may have applied them) skips every action.
if not replay then
  for _, action in ipairs(effects.actions) do
    local key, field
    if action.scope == 'SESSION' then
      key, field = P .. 's:' .. subject, 'a.' .. action.name
    else
      key, field = P .. 't:' .. subject, action.name
    end
    if action.operation == 'INCREMENT' then
      local current = tonumber(cjson.decode(redis.call('HGET', key, field) or '0')) or 0
      redis.call('HSET', key, field, cjson.encode(current + (tonumber(action.value) or 0)))
    else
      redis.call('HSET', key, field, cjson.encode(action.value))
    end
    redis.call('PEXPIRE', key, int(ttl))
  end
end

if #tripped == 0 and not pending then
  redis.call('SET', P .. 'seen:' .. mid, 'd', 'PX', int(dedup)) -- nothing to make durable: done now
end
return table.concat(tripped, ',')
