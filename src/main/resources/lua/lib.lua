-- Shared by every script (prepended when loaded). Keys all start with the configured prefix P:
--   seen:<messageId>       'p' applied, signals pending | 'd' done           (dedup window)
--   id:<id>                canonical userId an anonymousId / old userId resolves to
--   ids:<userId>           set of ids linked to the user
--   s:<subject>            session hash: sessionId startedAt lastSeenAt eventCount pagesViewed a.<attribute>
--   cart:<subject>         cart JSON {"items":[...],"value":n,"count":n}
--   t:<subject>            traits hash: name -> JSON value
--   timers                 zset "<rule>|<subject>" by due time (ms)
--   timers:inflight        zset of claimed timers by lease expiry
--   tp:<rule>|<subject>    timer hash: payload, due
--   ut:<subject>           set of rule ids with an armed timer for the subject
--   th:<rule>:<key>        threshold window: zset of messageIds by event time
--   cd:<rule>:<key>        threshold cooldown, holding the signal id that tripped it
-- <subject> is "u:<userId>" for a known user, "a:<anonymousId>" before one is known.

-- Lua 5.1 would write a large number as 1.732e+12; times go to Redis as whole numbers.
local function int(n)
  return string.format('%d', n)
end

local function state_of(P, subject)
  local session = {}
  local attributes = {}
  local raw = redis.call('HGETALL', P .. 's:' .. subject)
  for i = 1, #raw, 2 do
    local field, value = raw[i], raw[i + 1]
    if string.sub(field, 1, 2) == 'a.' then
      attributes[string.sub(field, 3)] = cjson.decode(value)
    elseif field == 'sessionId' then
      session[field] = value
    else
      session[field] = tonumber(value)
    end
  end
  session['attributes'] = attributes
  local cart = redis.call('GET', P .. 'cart:' .. subject)
  local traits = {}
  local rawTraits = redis.call('HGETALL', P .. 't:' .. subject)
  for i = 1, #rawTraits, 2 do
    traits[rawTraits[i]] = cjson.decode(rawTraits[i + 1])
  end
  return session, (cart and cjson.decode(cart) or { value = 0, count = 0 }), traits
end
