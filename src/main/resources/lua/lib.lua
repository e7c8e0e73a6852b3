-- Shared by every script (prepended when loaded). Keys all start with the configured prefix P:
--   dd:<key>               hash of the latest message ids of a log key (u:<userId> or a:<anonymousId>): 'p' applied,
--                          signals pending | 'd' done; kept for the dedup window after the key's last event
--   id:<id>                canonical userId an anonymousId / old userId resolves to
--   ids:<userId>           set of ids linked to the user
--   s:<subject>            the user's hash, read and written once per event: session fields (sessionId startedAt
--                          lastSeenAt eventCount pagesViewed), a.<session attribute> and t.<trait> as JSON, cart as
--                          JSON {"items":[...],"value":n,"count":n}, _ttlAt (when its expiry was last pushed back),
--                          _v (2: this layout; cart:<subject> and t:<subject> were the cart and traits before it)
--   timers                 zset "<rule>|<subject>" by due time (ms)
--   timers:inflight        zset of claimed timers by lease expiry
--   tp:<rule>|<subject>    timer hash: payload, due
--   ut:<subject>           set of rule ids with an armed timer for the subject
--   th:<rule>:<key>        threshold window: zset of messageIds by event time
--   cd:<rule>:<key>        threshold cooldown, holding the signal id that tripped it
-- <subject> is "u:<userId>" for a known user, "a:<anonymousId>" before one is known.

-- What a failed redis.call or Lua error inside pcall says: Redis raises a table with an err field.
local function failure(raised)
  if type(raised) == 'table' and raised.err then return raised.err end
  return tostring(raised)
end

-- Lua 5.1 would write a large number as 1.732e+12; times go to Redis as whole numbers.
local function int(n)
  return string.format('%d', n)
end

-- A number as JSON: whole numbers without a fraction, others with the 14 significant digits cjson writes.
local function int_or_float(n)
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return int(n) end
  return string.format('%.14g', n)
end

-- The user's hash: session fields, 'cart', 't.<trait>', 'a.<attribute>' and '_' bookkeeping. A hash written before
-- one hash held it all (no '_v' field) has its cart:<subject> and t:<subject> keys folded in when it is first read.
-- A subject with no hash is not written to.
local function user_hash(P, subject)
  local key = P .. 's:' .. subject
  local raw = redis.call('HGETALL', key)
  if #raw == 0 then return raw end
  for i = 1, #raw, 2 do
    if raw[i] == '_v' then return raw end
  end
  local cartKey, traitsKey = P .. 'cart:' .. subject, P .. 't:' .. subject
  local cart = redis.call('GET', cartKey)
  if cart then redis.call('HSETNX', key, 'cart', cart) end
  local traits = redis.call('HGETALL', traitsKey)
  for i = 1, #traits, 2 do redis.call('HSETNX', key, 't.' .. traits[i], traits[i + 1]) end
  redis.call('DEL', cartKey, traitsKey)
  redis.call('HSET', key, '_v', '2')
  return redis.call('HGETALL', key)
end

-- The user's state as tables, for the scripts that return it as JSON (timers, the admin API).
local function state_of(P, subject)
  local session, attributes, traits = {}, {}, {}
  local cart = { value = 0, count = 0 }
  local raw = user_hash(P, subject)
  for i = 1, #raw, 2 do
    local field, value = raw[i], raw[i + 1]
    local kind = string.sub(field, 1, 2)
    if kind == 'a.' then
      attributes[string.sub(field, 3)] = cjson.decode(value)
    elseif kind == 't.' then
      traits[string.sub(field, 3)] = cjson.decode(value)
    elseif field == 'cart' then
      cart = cjson.decode(value)
    elseif string.sub(field, 1, 1) == '_' then
      -- bookkeeping (_ttlAt, _v), not part of the session rules see
    elseif field == 'sessionId' then
      session[field] = value
    else
      session[field] = tonumber(value)
    end
  end
  session['attributes'] = attributes
  return session, cart, traits
end
