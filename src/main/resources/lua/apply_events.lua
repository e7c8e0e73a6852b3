-- Applies a wave of events (at most one per user, so none waits on another in the same call) to identity,
-- session, cart and traits, each atomically, and returns each one's resulting state. One call per wave instead of
-- one per event: the call's own cost is shared, and nothing is decoded or encoded that the caller can do itself.
-- ARGV: prefix, session timeout (ms), dedup window (ms), state TTL (ms), then per event:
--   messageId, dedup key, userId, anonymousId, type, event name, time (ms), cart properties JSON (cart events) or '',
--   previousId (alias) or '', n, then n pairs of trait name and trait value as JSON (identify)
-- Returns, per event, { status, subject, userId, the user's hash (flat: see lib.lua) }, { 'duplicate' }, or
-- { 'error', message } for an event whose work failed (its neighbours are not affected).
local P = ARGV[1]
local timeout, dedup, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- A user's hash's expiry is pushed back when a sixteenth of the TTL has passed since it last was, not on every
-- event: an idle user's state still goes within the TTL and a sixteenth, at one PEXPIRE in many.
local ttlRefresh = math.floor(ttl / 16)
-- A dedup hash holds its key's latest message ids: past this many it starts again (a client's retries come within
-- seconds or minutes of the original, long before a key sends so many events).
local DEDUP_KEEP = 1000

-- Records the message id under its key; returns 'new', 'replay' (applied before, its signals perhaps not durable:
-- evaluate again, apply nothing twice) or 'duplicate' (done: skip).
local function sight(dedupKey, mid)
  local key = P .. 'dd:' .. dedupKey
  if redis.call('HLEN', key) >= DEDUP_KEEP then redis.call('DEL', key) end
  local fresh = redis.call('HSETNX', key, mid, 'p') == 1
  redis.call('PEXPIRE', key, int(dedup))
  if fresh then return 'new' end
  return redis.call('HGET', key, mid) == 'd' and 'duplicate' or 'replay'
end

local function canonical(id)
  if id == '' then return nil end
  return redis.call('GET', P .. 'id:' .. id) or nil
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
  local cart = cjson.decode(text or '{"items":[]}')
  if type(cart.items) ~= 'table' then cart.items = {} end
  return cart
end

-- The cart's JSON, or false once it is empty.
local function encode_cart(cart)
  local value, count, kept = 0, 0, {}
  for _, item in ipairs(cart.items) do
    if item.quantity > 0 then
      table.insert(kept, item)
      value = value + item.price * item.quantity
      count = count + item.quantity
    end
  end
  if #kept == 0 then return false end
  return cjson.encode({ items = kept, value = value, count = count })
end

local function fields_of(raw)
  local fields = {}
  for i = 1, #raw, 2 do fields[raw[i]] = raw[i + 1] end
  return fields
end

-- Folds one user's hash into another's: counts add up, the session spans both, carts merge, and for anything else
-- (traits, attributes) the user already holding it keeps it.
local function merge_user(from, to)
  local fromRaw = user_hash(P, from)
  if #fromRaw == 0 then return end
  local fromKey, toKey = P .. 's:' .. from, P .. 's:' .. to
  local toRaw = user_hash(P, to)
  if #toRaw == 0 then
    redis.call('RENAME', fromKey, toKey)
    return
  end
  local own = fields_of(toRaw)
  for i = 1, #fromRaw, 2 do
    local field, value = fromRaw[i], fromRaw[i + 1]
    if field == 'eventCount' or field == 'pagesViewed' then
      redis.call('HSET', toKey, field, int(tonumber(own[field] or '0') + tonumber(value)))
    elseif field == 'startedAt' then
      redis.call('HSET', toKey, field, int(math.min(tonumber(own[field] or value), tonumber(value))))
    elseif field == 'lastSeenAt' then
      redis.call('HSET', toKey, field, int(math.max(tonumber(own[field] or value), tonumber(value))))
    elseif field == 'cart' then
      local merged = decode_cart(own.cart)
      for _, item in ipairs(decode_cart(value).items) do add_item(merged, item) end
      local text = encode_cart(merged)
      if text then redis.call('HSET', toKey, 'cart', text) end
    elseif own[field] == nil then
      redis.call('HSET', toKey, field, value)
    end
  end
  redis.call('DEL', fromKey)
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
    merge_user(from, to)
    merge_timers(from, to)
  end
end

local function update_cart(cartJson, ename, props)
  if ename == 'Order Completed' or ename == 'Cart Cleared' then return false end
  local p = cjson.decode(props)
  local id = p.product_id or p.productId or p.sku or p.id or p.name
  if not id or id == cjson.null then return cartJson or false end
  local cart = decode_cart(cartJson)
  local quantity = tonumber(p.quantity) or 1
  if ename == 'Product Added' then
    add_item(cart, { id = tostring(id), name = p.name, category = p.category,
      price = tonumber(p.price) or 0, quantity = quantity })
  else -- Product Removed
    for _, item in ipairs(cart.items) do
      if item.id == tostring(id) then item.quantity = item.quantity - quantity end
    end
  end
  return encode_cart(cart)
end

-- The event applied to the user's hash: one read, one write of what changed (and an expiry now and then).
local function touch(subject, mid, etype, ename, now, props, traitPairs)
  local key = P .. 's:' .. subject
  local raw = user_hash(P, subject)
  local fields = fields_of(raw)
  local last = tonumber(fields.lastSeenAt or '0')
  local ttlAt = tonumber(fields._ttlAt or '0')
  local writes = {}
  local function put(field, value)
    fields[field] = value
    writes[#writes + 1] = field
    writes[#writes + 1] = value
  end
  local fresh = last == 0 or now - last > timeout
  if fresh then
    -- Inactive past the timeout: a new session, whose id is the message id of its first event. Its attributes go;
    -- the cart and the traits stay.
    local ended = {}
    for field in pairs(fields) do
      if string.sub(field, 1, 2) == 'a.' then ended[#ended + 1] = field end
    end
    if #ended > 0 then
      redis.call('HDEL', key, unpack(ended))
      for _, field in ipairs(ended) do fields[field] = nil end
    end
    put('sessionId', mid)
    put('startedAt', int(now))
    put('pagesViewed', '0')
    put('_v', '2')
    fields.eventCount = '0'
  end
  put('eventCount', int(tonumber(fields.eventCount or '0') + 1))
  if etype == 'page' or etype == 'screen' then put('pagesViewed', int(tonumber(fields.pagesViewed or '0') + 1)) end
  if now > last then put('lastSeenAt', int(now)) end
  if props ~= '' then
    local cart = update_cart(fields.cart, ename, props)
    if cart then
      put('cart', cart)
    elseif fields.cart then
      fields.cart = nil
      redis.call('HDEL', key, 'cart')
    end
  end
  for k = 1, #traitPairs, 2 do put('t.' .. traitPairs[k], traitPairs[k + 1]) end
  local refresh = ttlAt == 0 or now - ttlAt > ttlRefresh or now < ttlAt
  if refresh then put('_ttlAt', int(now)) end
  redis.call('HSET', key, unpack(writes))
  if refresh then redis.call('PEXPIRE', key, int(ttl)) end
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat
end

local function apply(mid, dedupKey, userId, anon, etype, ename, now, props, previousId, traitPairs)
  local status = sight(dedupKey, mid)
  if status == 'duplicate' then return { status } end
  local replay = status == 'replay'

  local user = nil
  if userId ~= '' then user = canonical(userId) or userId end
  if not replay and user then
    link(anon, user)
    if etype == 'alias' then link(previousId, user) end
  end
  if not user then user = canonical(anon) end
  local subject = user and ('u:' .. user) or ('a:' .. anon)
  local state
  if replay then
    state = user_hash(P, subject)
  else
    state = touch(subject, mid, etype, ename, now, props, traitPairs)
  end
  return { status, subject, user or '', state }
end

local results = {}
local i = 5
while i <= #ARGV do
  local mid, dedupKey, userId, anon, etype, ename, now, props, previousId = ARGV[i], ARGV[i + 1], ARGV[i + 2],
    ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], tonumber(ARGV[i + 6]), ARGV[i + 7], ARGV[i + 8]
  local pairsCount = tonumber(ARGV[i + 9])
  local traitPairs = {}
  for k = 1, 2 * pairsCount do traitPairs[k] = ARGV[i + 9 + k] end
  i = i + 10 + 2 * pairsCount
  local ok, result = pcall(apply, mid, dedupKey, userId, anon, etype, ename, now, props, previousId, traitPairs)
  results[#results + 1] = ok and result or { 'error', failure(result) }
end
return results
