-- What the router holds about a user, for GET /admin/users/{id}. ARGV: prefix, id (a userId or anonymousId)
local P, id = ARGV[1], ARGV[2]
local user = redis.call('GET', P .. 'id:' .. id) or nil
if not user and (redis.call('EXISTS', P .. 's:u:' .. id) == 1 or redis.call('EXISTS', P .. 'ids:' .. id) == 1
    or redis.call('EXISTS', P .. 't:u:' .. id) == 1) then
  user = id
end
local subject = user and ('u:' .. user) or ('a:' .. id)
local session, cart, traits = state_of(P, subject)
local timers = {}
for _, rule in ipairs(redis.call('SMEMBERS', P .. 'ut:' .. subject)) do
  local member = rule .. '|' .. subject
  table.insert(timers, { ruleId = rule,
    due = redis.call('HGET', P .. 'tp:' .. member, 'due'),
    claimedUntil = tonumber(redis.call('ZSCORE', P .. 'timers:inflight', member)) })
end
return cjson.encode({ subject = subject, userId = user or '', linkedIds = user and redis.call('SMEMBERS', P .. 'ids:' .. user) or {},
  session = session, cart = cart, traits = traits, timers = timers })
