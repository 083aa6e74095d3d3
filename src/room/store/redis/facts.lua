--[[
Chợ Phiên room functions, what other domains report and what nodes count:
the flash sale as last announced, purchases, the stream's state, hearts and
viewer counts aggregated over nodes, and the read-only product and ban
checks. The last part of the library `chophien`: it uses the keys and
helpers that room.lua defines (src/redis_link.rs concatenates them).
]]
-- The catalog copy of product `id` follows the sale store's count `stock`
-- (a number); false when it already agreed or the product is gone.
local function set_product_stock(keys, id, stock)
  local raw = redis.call('HGET', keys[PRODUCTS], id)
  if not raw then return false end
  local product = cjson.decode(raw)
  if product.stock == stock then return false end
  product.stock = stock
  redis.call('HSET', keys[PRODUCTS], id, cjson.encode(product))
  return true
end

-- ARGV[4..]: `replace` or `refresh`, sale JSON, its id, state, ends_at,
-- remaining, its product's id, that product's stock after the change (''
-- when not known). Mirrors SaleView and RoomFact::SaleChanged: a replaced
-- sale is always announced, with the product's stock when known (the
-- catalog copy follows it in the same call, with no product_stock event);
-- a refresh of the current sale announces what changed, if anything did.
local function sale(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local json, id, state, ends_at, remaining = args[5], args[6], args[7], args[8], args[9]
  local product_stock = tonumber(args[11] or '')
  local event
  if args[4] == 'replace' and product_stock then
    set_product_stock(keys, args[10], product_stock)
    event = '{"type":"sale_updated","sale":' .. json .. ',"product_stock":'
      .. num(product_stock) .. '}'
  elseif args[4] == 'replace' then
    event = '{"type":"sale_updated","sale":' .. json .. '}'
  else
    local c = redis.call('HMGET', keys[ROOM], 'sale_id', 'sale_state', 'sale_ends_at',
      'sale_remaining')
    if c[1] ~= id then return {'ok'} end
    if c[2] ~= state or c[3] ~= ends_at then
      event = '{"type":"sale_updated","sale":' .. json .. '}'
    elseif c[4] ~= remaining then
      event = cjson.encode({type = 'sale_stock', sale_id = id, remaining = tonumber(remaining)})
    else
      return {'ok'}
    end
  end
  redis.call('HSET', keys[ROOM], 'sale', json, 'sale_id', id, 'sale_state', state,
    'sale_ends_at', ends_at, 'sale_remaining', remaining)
  publish(keys, args, {event})
  return {'ok'}
end

-- ARGV[4..]: sale id, buyer name, quantity.
local function purchase(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  publish(keys, args, {cjson.encode({type = 'sale_purchase', sale_id = args[4],
    buyer_name = args[5], quantity = tonumber(args[6])})})
  return {'ok'}
end

-- ARGV[4..]: a product's id, its stock as the sale store counts it. The
-- catalog copy follows it (announced only when it differs; a product since
-- removed is left alone).
local function product_stock(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local stock = tonumber(args[5])
  if not set_product_stock(keys, args[4], stock) then return {'ok'} end
  publish(keys, args, {cjson.encode({type = 'product_stock', product_id = args[4], stock = stock})})
  return {'ok'}
end

-- ARGV[4]: an event's JSON (in the RoomEvent shape, built by the caller),
-- announced as it is: for facts the room keeps no state about.
local function announce(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  publish(keys, args, {args[4]})
  return {'ok'}
end

-- ARGV[4..]: the order's status tag, its new status.
local function order_status(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  publish(keys, args, {cjson.encode({type = 'order_status', status_tag = args[4],
    status = args[5]})})
  return {'ok'}
end

-- ARGV[4]: '1' when the seller's video reaches the SFU, '0' when not.
local function stream(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  if redis.call('HGET', keys[ROOM], 'stream_live') == args[4] then return {'ok'} end
  redis.call('HSET', keys[ROOM], 'stream_live', args[4])
  publish(keys, args, {'{"type":"stream_state","live":' .. (args[4] == '1' and 'true' or 'false') .. '}'})
  return {'ok'}
end

-- ARGV[4..]: hearts tapped on the calling node, interval (ms). Announces
-- the room's hearts at most once per interval (a tenth forgiven, like
-- announcement_due in Rust). Reply: ok, '1' while taps wait.
local function hearts(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local now, every = tonumber(args[2]), tonumber(args[5])
  local h = redis.call('HMGET', keys[ROOM], 'hearts_pending', 'hearts_total', 'hearts_at')
  local pending = tonumber(h[1]) + tonumber(args[4])
  local since = math.max(0, now - tonumber(h[3]))
  if pending > 0 and since >= every - math.floor(every / 10) then
    local total = tonumber(h[2]) + pending
    redis.call('HSET', keys[ROOM], 'hearts_pending', '0', 'hearts_total', num(total),
      'hearts_at', args[2])
    publish(keys, args, {'{"type":"hearts","count":' .. num(pending) .. ',"total":'
      .. num(total) .. '}'})
    return {'ok', '0'}
  end
  redis.call('HSET', keys[ROOM], 'hearts_pending', num(pending))
  return {'ok', pending > 0 and '1' or '0'}
end

-- ARGV[4..]: node id, its viewers, how long the report counts (ms).
local function viewers(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local now = tonumber(args[2])
  redis.call('HSET', keys[VIEWERS], args[4], args[5] .. ':' .. num(now + tonumber(args[6])))
  local count = 0
  local reports = redis.call('HGETALL', keys[VIEWERS])
  for i = 1, #reports, 2 do
    local n, until_at = string.match(reports[i + 1], '^(%d+):(%d+)$')
    if tonumber(until_at) > now then
      count = count + tonumber(n)
    else
      redis.call('HDEL', keys[VIEWERS], reports[i])
    end
  end
  if num(count) == redis.call('HGET', keys[ROOM], 'viewers') then return {'ok'} end
  redis.call('HSET', keys[ROOM], 'viewers', num(count))
  publish(keys, args, {'{"type":"viewer_count","count":' .. num(count) .. '}'})
  return {'ok'}
end

-- Read-only. ARGV[4]: product id. Reply: ok, product JSON.
local function product(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local json = redis.call('HGET', keys[PRODUCTS], args[4])
  if not json then return {'product_not_found'} end
  return {'ok', json}
end

-- Read-only. ARGV[4..]: user, rank. Reply: ok, '1' when banned; an ended
-- room bans nobody any more.
local function is_banned(keys, args)
  local _, refusal = live(keys)
  if refusal and refusal[1] == 'ended' then return {'ok', '0'} end
  if refusal then return refusal end
  return {'ok', ban_rank(keys, args[4]) > tonumber(args[5]) and '1' or '0'}
end

redis.register_function('chophien_room_sale', sale)
redis.register_function('chophien_room_purchase', purchase)
redis.register_function('chophien_room_order_status', order_status)
redis.register_function('chophien_room_product_stock', product_stock)
redis.register_function('chophien_room_announce', announce)
redis.register_function('chophien_room_stream', stream)
redis.register_function('chophien_room_hearts', hearts)
redis.register_function('chophien_room_viewers', viewers)
redis.register_function{function_name = 'chophien_room_product', callback = product,
  flags = {'no-writes'}}
redis.register_function{function_name = 'chophien_room_is_banned', callback = is_banned,
  flags = {'no-writes'}}
