-- Claims due timers (and claimed ones whose lease ran out) for this caller, atomically, so that each fires once
-- however many instances poll. A claim is a lease: complete_timer ends it once the signal is durable.
-- ARGV: prefix, now (ms), lease (ms), most to claim. Returns one JSON object per claimed timer.
local P, now, lease, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = {}

local function claim(member)
  local timer = redis.call('HMGET', P .. 'tp:' .. member, 'payload', 'due')
  if not timer[1] then
    redis.call('ZREM', P .. 'timers:inflight', member) -- cancelled meanwhile
    return
  end
  redis.call('ZADD', P .. 'timers:inflight', int(now + lease), member)
  local bar = string.find(member, '|', 1, true)
  local subject = string.sub(member, bar + 1)
  local session, cart, traits = state_of(P, subject)
  table.insert(claimed, cjson.encode({ member = member, ruleId = string.sub(member, 1, bar - 1), subject = subject,
    due = timer[2], payload = timer[1], session = session, cart = cart, traits = traits }))
end

for _, member in ipairs(redis.call('ZRANGEBYSCORE', P .. 'timers:inflight', '-inf', int(now), 'LIMIT', 0, int(limit))) do
  if #claimed < limit then claim(member) end
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', P .. 'timers', '-inf', int(now), 'LIMIT', 0, int(limit))) do
  if #claimed >= limit then break end
  redis.call('ZREM', P .. 'timers', member)
  claim(member)
end
return claimed
