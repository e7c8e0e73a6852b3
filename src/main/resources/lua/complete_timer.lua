-- Ends a claimed timer once its signal is durable. A timer re-armed since the claim keeps its new deadline.
-- ARGV: prefix, member, due (ms) of the firing that completed
local P, member, due = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', P .. 'timers:inflight', member)
if redis.call('HGET', P .. 'tp:' .. member, 'due') == due and not redis.call('ZSCORE', P .. 'timers', member) then
  redis.call('DEL', P .. 'tp:' .. member)
  local bar = string.find(member, '|', 1, true)
  redis.call('SREM', P .. 'ut:' .. string.sub(member, bar + 1), string.sub(member, 1, bar - 1))
end
return 'OK'
