-- Applies one event to identity, session, cart and traits, atomically, and returns the resulting state.
-- ARGV: prefix, messageId, userId, anonymousId, type, event name, time (ms), session timeout (ms), dedup window (ms),
--       state TTL (ms), properties JSON (cart events) or '', traits JSON (identify) or '', previousId (alias) or ''
local P, mid, userId, anon, etype, ename = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now, timeout, dedup, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local props, traitsJson, previousId = ARGV[11], ARGV[12], ARGV[13]

local seenKey = P .. 'seen:' .. mid
local seen = redis.call('GET', seenKey)
if seen == 'd' then
  return '{"status":"duplicate"}'
end
-- 'p': applied before, but its signals may not have reached the log (a crash): evaluate again, apply nothing twice.
local replay = seen == 'p'

local function canonical(id)
  if id == '' then return nil end
  local c = redis.call('GET', P .. 'id:' .. id)
  if c then return c end
  return nil
end

local function merge_session(from, to)
  if redis.call('EXISTS', from) == 0 then return end
  if redis.call('EXISTS', to) == 0 then
    redis.call('RENAME', from, to)
    return
  end
  local raw = redis.call('HGETALL', from)
  for i = 1, #raw, 2 do
    local field, value = raw[i], raw[i + 1]
    if field == 'eventCount' or field == 'pagesViewed' then
      redis.call('HINCRBY', to, field, tonumber(value))
    elseif field == 'startedAt' then
      local own = tonumber(redis.call('HGET', to, field) or value)
      redis.call('HSET', to, field, int(math.min(own, tonumber(value))))
    elseif field == 'lastSeenAt' then
      local own = tonumber(redis.call('HGET', to, field) or value)
      redis.call('HSET', to, field, int(math.max(own, tonumber(value))))
    else
      redis.call('HSETNX', to, field, value)
    end
  end
  redis.call('DEL', from)
end

local function add_item(cart, item)
  for _, existing in ipairs(cart.items) do
    if existing.id == item.id then
      existing.quantity = existing.quantity + item.quantity
      return
    end
  end
  table.insert(cart.items, item)
end

local function decode_cart(text)
  local cart = cjson.decode(text)
  if type(cart.items) ~= 'table' then cart.items = {} end
  return cart
end

local function store_cart(key, cart)
  local value, count, kept = 0, 0, {}
  for _, item in ipairs(cart.items) do
    if item.quantity > 0 then
      table.insert(kept, item)
      value = value + item.price * item.quantity
      count = count + item.quantity
    end
  end
  if #kept == 0 then
    redis.call('DEL', key)
    return
  end
  redis.call('SET', key, cjson.encode({ items = kept, value = value, count = count }), 'PX', int(ttl))
end

local function merge_cart(from, to)
  local fromCart = redis.call('GET', from)
  if not fromCart then return end
  local toCart = redis.call('GET', to)
  if not toCart then
    redis.call('RENAME', from, to)
    return
  end
  local merged = decode_cart(toCart)
  for _, item in ipairs(decode_cart(fromCart).items) do add_item(merged, item) end
  store_cart(to, merged)
  redis.call('DEL', from)
end

local function merge_traits(from, to)
  local raw = redis.call('HGETALL', from)
  for i = 1, #raw, 2 do redis.call('HSETNX', to, raw[i], raw[i + 1]) end
  redis.call('DEL', from)
end

local function merge_timers(from, to)
  local rules = redis.call('SMEMBERS', P .. 'ut:' .. from)
  for _, rule in ipairs(rules) do
    local fromMember, toMember = rule .. '|' .. from, rule .. '|' .. to
    local due = redis.call('ZSCORE', P .. 'timers', fromMember)
    redis.call('ZREM', P .. 'timers', fromMember)
    if due and not redis.call('ZSCORE', P .. 'timers', toMember) then
      redis.call('ZADD', P .. 'timers', due, toMember)
      if redis.call('EXISTS', P .. 'tp:' .. fromMember) == 1 then
        redis.call('RENAME', P .. 'tp:' .. fromMember, P .. 'tp:' .. toMember)
      end
      redis.call('SADD', P .. 'ut:' .. to, rule)
    else
      redis.call('DEL', P .. 'tp:' .. fromMember)
    end
  end
  redis.call('DEL', P .. 'ut:' .. from)
end

-- id (an anonymousId, or a previous userId through alias) now belongs to user; a first link merges its state.
local function link(id, user)
  if id == '' or id == user then return end
  local existing = canonical(id)
  if existing == user then return end
  redis.call('SET', P .. 'id:' .. id, user)
  redis.call('SADD', P .. 'ids:' .. user, id)
  if existing then return end -- it belonged to another user before: remap it, but do not take that user's state
  local to = 'u:' .. user
  for _, from in ipairs({ 'a:' .. id, 'u:' .. id }) do
    merge_session(P .. 's:' .. from, P .. 's:' .. to)
    merge_cart(P .. 'cart:' .. from, P .. 'cart:' .. to)
    merge_traits(P .. 't:' .. from, P .. 't:' .. to)
    merge_timers(from, to)
  end
end

local user = nil
if userId ~= '' then user = canonical(userId) or userId end
if not replay and user then
  link(anon, user)
  if etype == 'alias' then link(previousId, user) end
end
if not user then user = canonical(anon) end
local subject = user and ('u:' .. user) or ('a:' .. anon)

if not replay then
  local sessionKey = P .. 's:' .. subject
  local last = tonumber(redis.call('HGET', sessionKey, 'lastSeenAt') or '0')
  if last == 0 or now - last > timeout then
    -- Inactive past the timeout: a new session, whose id is the message id of its first event.
    redis.call('DEL', sessionKey)
    redis.call('HSET', sessionKey, 'sessionId', mid, 'startedAt', int(now), 'eventCount', 0, 'pagesViewed', 0,
      'lastSeenAt', int(now))
  end
  redis.call('HINCRBY', sessionKey, 'eventCount', 1)
  if etype == 'page' or etype == 'screen' then redis.call('HINCRBY', sessionKey, 'pagesViewed', 1) end
  if now > last then redis.call('HSET', sessionKey, 'lastSeenAt', int(now)) end
  redis.call('PEXPIRE', sessionKey, int(ttl))

  if props ~= '' then
    local cartKey = P .. 'cart:' .. subject
    if ename == 'Order Completed' or ename == 'Cart Cleared' then
      redis.call('DEL', cartKey)
    else
      local p = cjson.decode(props)
      local id = p.product_id or p.productId or p.sku or p.id or p.name
      if id and id ~= cjson.null then
        local cart = decode_cart(redis.call('GET', cartKey) or '{"items":[]}')
        local quantity = tonumber(p.quantity) or 1
        if ename == 'Product Added' then
          add_item(cart, { id = tostring(id), name = p.name, category = p.category,
            price = tonumber(p.price) or 0, quantity = quantity })
        else -- Product Removed
          for _, item in ipairs(cart.items) do
            if item.id == tostring(id) then item.quantity = item.quantity - quantity end
          end
        end
        store_cart(cartKey, cart)
      end
    end
  end

  if traitsJson ~= '' then
    local traitsKey = P .. 't:' .. subject
    for name, value in pairs(cjson.decode(traitsJson)) do
      redis.call('HSET', traitsKey, name, cjson.encode(value))
    end
    redis.call('PEXPIRE', traitsKey, int(ttl))
  end
  redis.call('SET', seenKey, 'p', 'PX', int(dedup))
end

local session, cart, traits = state_of(P, subject)
return cjson.encode({ status = replay and 'replay' or 'new', subject = subject, userId = user or '',
  session = session, cart = cart, traits = traits })
