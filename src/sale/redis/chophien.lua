#!lua name=chophien
--[[
Chợ Phiên flash-sale functions (Redis 7 Functions, library `chophien`).

Loaded by src/sale/redis/mod.rs with FUNCTION LOAD REPLACE at start and again
whenever a call answers "Function not found" (after FUNCTION FLUSH, or a
fresh server). Functions are persisted with the data (AOF/RDB).

Every key of a room shares the hash tag {room:R}, its sales' keys included,
so a room and all its sales live in one Cluster slot and one function may
touch any of them. Every sale function receives the same thirteen keys, the
sale's seven and then its room's six:
  KEYS[1] {room:R}:sale:S:meta       hash   sale fields; `remaining` is the available stock
  KEYS[2] {room:R}:sale:S:buyers     hash   buyer id -> units held or ordered (per-buyer limit);
                                            "holds <buyer id>" -> the buyer's hold ids, comma
                                            separated, and "orders <buyer id>" her confirmed
                                            ones; "phone <0xxxxxxxxx>" -> units ordered
                                            with that shipping phone (fields with a space are
                                            never buyer ids)
  KEYS[3] {room:R}:sale:S:idem       hash   "<len>:<buyer>:<key>" -> hold id it reserved
  KEYS[4] {room:R}:sale:S:holds      hash   hold id -> hold JSON (immutable once written)
  KEYS[5] {room:R}:sale:S:deadlines  zset   pending hold id -> deadline (unix ms)
  KEYS[6] {room:R}:sale:S:statuses   hash   hold id -> held | confirmed | cancelled | expired
  KEYS[7] {room:R}:sale:S:orders     hash   hold id -> order JSON
  KEYS[8] {room:R}:current_sale      hash   sale_id, ends_at: the room's latest sale and
                                            when it stops running (one runs at a time)
  KEYS[9] {room:R}:sales             list   the room's sale ids, oldest first
  KEYS[10] {room:R}:order_index      hash   order id -> the hold id it consumed (and so its
                                            sale): how an order is found by its id
  KEYS[11] {room:R}:stock            hash   product id -> units on hand outside any flash sale
                                            (one stock per product: a sale carves its units out
                                            when it is created and gives back what is left,
                                            once, when it ends)
  KEYS[12] {room:R}:vouchers         hash   code -> voucher JSON (immutable)
  KEYS[13] {room:R}:voucher_uses     hash   "<CODE> used" / "<CODE> claimed" -> counts,
                                            "<CODE> dropped" -> 1, "<CODE> buyer <id>" ->
                                            claimed | used, "<CODE> phone <0xxx>" -> used
The voucher functions (create, drop, claim) take only KEYS 12 and 13.

A room's shopping bag uses the same thirteen keys under the pseudo sale id
`bag` ({room:R}:sale:bag:*), with no meta hash (so no sale function finds
it). A bag hold's JSON carries its product (product_id, product_name,
unit_price_vnd, per_buyer_limit); its units come from and go back to
KEYS[11], the product's stock. In the bag's buyers hash "units <product>
<buyer>" counts a buyer's held and ordered units of a product and "phone
<product> <0xxx>" a phone's ordered ones (product ids have no spaces).

The functions that make or change an order (confirm, bag_checkout,
update_order) may take two more keys, a journal entry that rides with the
order (the shop's webhook outbox; src/sale/journal.rs):
  KEYS[14] {room:R}:webhook:event:<id>  hash  written once, with the order
  KEYS[15] {room:R}:webhook:log         list  the entry's id pushed first, trimmed
and after their own arguments the entry's: id, list cap, field/value pairs.
It is written only by the call that made or changed the order.

The caller names the room (from its verified token), so a sale or hold of
another room is simply absent from these keys: it answers sale_not_found or
hold_not_found like one that never existed.

Time is ARGV[1] (unix ms) from the calling server, never Redis TIME, so the
in-memory store and this one agree and tests control the clock.

Replies are arrays of strings whose first element is the outcome.

Rule: every read and check comes before the first write, so a function that
refuses (or fails on bad data) has changed nothing. Stock returns only where
ZREM of the hold's deadline answered 1: that is the exactly-once guard.

Stock: remaining + held + ordered (not cancelled) + returned == stock_total,
where `returned` (in meta, set when the sale closes) counts units given back
to the product's stock. Before a sale closes, units that come back (expired
or cancelled holds, cancelled orders) go to its `remaining`; after, to the
product.
]]

local META, BUYERS, IDEM, HOLDS, DEADLINES, STATUSES, ORDERS = 1, 2, 3, 4, 5, 6, 7
local CURRENT_SALE, ROOM_SALES, ORDER_INDEX, STOCK = 8, 9, 10, 11
local VOUCHERS, VOUCHER_USES = 12, 13

local function int(n)
  return string.format('%d', n)
end

-- The state of a sale at `now`; mirrors SaleTimes::state_at in types.rs.
local function sale_state(now, starts_at, ends_at, ended, remaining)
  if ended == '1' or now >= ends_at then return 'ended' end
  if now < starts_at then return 'scheduled' end
  if remaining == 0 then return 'sold_out' end
  return 'live'
end

-- Units coming back to the sale: to its `remaining` while it is open, to
-- its product's stock once it has closed.
local function give_back(keys, qty)
  local m = redis.call('HMGET', keys[META], 'returned', 'product_id')
  if m[1] then
    redis.call('HINCRBY', keys[STOCK], m[2], qty)
    redis.call('HINCRBY', keys[META], 'returned', qty)
  else
    redis.call('HINCRBY', keys[META], 'remaining', qty)
  end
end

-- Closes an ended sale: what is left goes back to its product's stock, once.
local function close(keys)
  local m = redis.call('HMGET', keys[META], 'returned', 'remaining', 'product_id')
  if m[1] then return end
  redis.call('HINCRBY', keys[STOCK], m[3], tonumber(m[2]))
  redis.call('HSET', keys[META], 'returned', m[2], 'remaining', '0')
end

-- Lowers a count that is still kept (a buyers hash expires some days after
-- its room ends; a late change must not create a negative count).
local function lower(hash, field, qty)
  if redis.call('HEXISTS', hash, field) == 1 then
    redis.call('HINCRBY', hash, field, -qty)
  end
end

-- Gives a pending hold's units back: a sale's to the sale (give_back), a
-- bag hold's to its product. Returns the units returned (0 when the hold
-- was no longer pending).
local function release(keys, hold_id, hold, status)
  if redis.call('ZREM', keys[DEADLINES], hold_id) == 0 then return 0 end
  if hold.product_id then
    redis.call('HINCRBY', keys[STOCK], hold.product_id, hold.quantity)
    lower(keys[BUYERS], 'units ' .. hold.product_id .. ' ' .. hold.buyer_id, hold.quantity)
  else
    give_back(keys, hold.quantity)
    redis.call('HINCRBY', keys[BUYERS], hold.buyer_id, -hold.quantity)
  end
  redis.call('HSET', keys[STATUSES], hold_id, status)
  return hold.quantity
end

-- Appends an id to a comma-separated list kept in a hash field.
local function list_append(hash, field, id)
  local ids = redis.call('HGET', hash, field)
  redis.call('HSET', hash, field, ids and (ids .. ',' .. id) or id)
end

-- ARGV: now, the product's stock as the catalog gives it (used only the
-- first time this product is seen), then field/value pairs of the sale
-- (`sale_id`, `product_id`, `stock_total` and `ends_at` among them). Refuses
-- while the room's current sale has not ended (it is scheduled, live or sold
-- out: all end at `ends_at`, which an early end moves to that moment), an
-- existing id, and more units than the product has: `insufficient_stock`
-- and what it has.
local function create_sale(keys, args)
  local now, seed = tonumber(args[1]), tonumber(args[2])
  local sale = {}
  for i = 3, #args - 1, 2 do sale[args[i]] = args[i + 1] end
  if not sale.sale_id or not tonumber(sale.ends_at) or not tonumber(sale.stock_total)
    or not sale.product_id then return {'bad_sale'} end
  local current_ends_at = redis.call('HGET', keys[CURRENT_SALE], 'ends_at')
  if current_ends_at and now < tonumber(current_ends_at) then return {'sale_running'} end
  if redis.call('EXISTS', keys[META]) == 1 then return {'exists'} end
  local on_hand = tonumber(redis.call('HGET', keys[STOCK], sale.product_id) or seed)
  local units = tonumber(sale.stock_total)
  if on_hand < units then return {'insufficient_stock', int(on_hand)} end

  local fields = {}
  for i = 3, #args do fields[#fields + 1] = args[i] end
  redis.call('HSET', keys[STOCK], sale.product_id, int(on_hand - units))
  redis.call('HSET', keys[META], unpack(fields))
  redis.call('HSET', keys[CURRENT_SALE], 'sale_id', sale.sale_id, 'ends_at', sale.ends_at)
  redis.call('RPUSH', keys[ROOM_SALES], sale.sale_id)
  return {'ok'}
end

-- The sale's fields a buy decides by, in the order `decide` reads them.
local function buy_terms(keys)
  return redis.call('HMGET', keys[META], 'remaining', 'per_buyer_limit', 'starts_at',
    'ends_at', 'ended', 'hold_secs', 'sale_id')
end

-- One buy, decided by the sale's fields `m` (buy_terms), whose `remaining`
-- it keeps up to date when it reserves: ARGV[at] .. ARGV[at + 5] are now,
-- buyer id, buyer name, quantity, idempotency field, new hold id.
local function decide(keys, m, args, at)
  local now, buyer, name, qty = tonumber(args[at]), args[at + 1], args[at + 2], tonumber(args[at + 3])
  local idem_field, hold_id = args[at + 4], args[at + 5]
  if not m[1] then return {'sale_not_found'} end
  local prior = redis.call('HGET', keys[IDEM], idem_field)
  if prior then return {'duplicate', redis.call('HGET', keys[HOLDS], prior)} end
  local remaining = tonumber(m[1])
  local state = sale_state(now, tonumber(m[3]), tonumber(m[4]), m[5], remaining)
  if state == 'ended' then return {'ended'} end
  if state == 'scheduled' then return {'not_started'} end
  if remaining < qty then return {'sold_out'} end
  local had = tonumber(redis.call('HGET', keys[BUYERS], buyer) or '0')
  if had + qty > tonumber(m[2]) then return {'limit_reached'} end

  local expires_at = now + tonumber(m[6]) * 1000
  local hold = cjson.encode({hold_id = hold_id, sale_id = m[7], quantity = qty,
    expires_at = expires_at, buyer_id = buyer, buyer_name = name})
  m[1] = redis.call('HINCRBY', keys[META], 'remaining', -qty)
  redis.call('HINCRBY', keys[BUYERS], buyer, qty)
  list_append(keys[BUYERS], 'holds ' .. buyer, hold_id)
  redis.call('HSET', keys[IDEM], idem_field, hold_id)
  redis.call('HSET', keys[HOLDS], hold_id, hold)
  redis.call('HSET', keys[STATUSES], hold_id, 'held')
  redis.call('ZADD', keys[DEADLINES], int(expires_at), hold_id)
  return {'reserved', hold}
end

-- ARGV: now, buyer id, buyer name, quantity, idempotency field, new hold id.
local function buy(keys, args)
  return decide(keys, buy_terms(keys), args, 1)
end

-- Group commit: ARGV is the batch's now (unused), then six arguments per
-- buy exactly as `buy` takes them. Runs each buy in order; replies with one
-- `buy` reply per request. The sale's fields are read once for the batch:
-- nothing but its own buys changes them inside the one call, and `decide`
-- keeps `remaining` current (a sold-out decision is then one HGET, not two
-- reads).
local function buy_batch(keys, args)
  local m = buy_terms(keys)
  local replies = {}
  for first = 2, #args, 6 do
    replies[#replies + 1] = decide(keys, m, args, first)
  end
  return replies
end

-- Looks up a hold for its buyer. Returns (hold, status) or an error reply.
local function own_hold(keys, hold_id, buyer)
  local raw = redis.call('HGET', keys[HOLDS], hold_id)
  if not raw then return nil, nil, {'hold_not_found'} end
  local hold = cjson.decode(raw)
  if hold.buyer_id ~= buyer then return nil, nil, {'forbidden'} end
  return hold, redis.call('HGET', keys[STATUSES], hold_id), nil
end

-- Why voucher `code` ('' for none) may not be used now by this buyer and
-- shipping phone, as a refusal reply; nil when it may.
local function voucher_refusal(keys, code, buyer, phone, now)
  if code == '' then return nil end
  local raw = redis.call('HGET', keys[VOUCHERS], code)
  if not raw then return {'voucher_not_found'} end
  local v = cjson.decode(raw)
  if now < v.starts_at or now >= v.ends_at then return {'voucher_expired'} end
  local by = redis.call('HGET', keys[VOUCHER_USES], code .. ' buyer ' .. buyer)
  if by == 'used' or redis.call('HEXISTS', keys[VOUCHER_USES], code .. ' phone ' .. phone) == 1 then
    return {'voucher_already_used'}
  end
  if v.drop then
    if by ~= 'claimed' then return {'voucher_not_claimed'} end
  elseif tonumber(redis.call('HGET', keys[VOUCHER_USES], code .. ' used') or '0') >= v.total_uses then
    return {'voucher_used_up'}
  end
  return nil
end

-- Records one use of voucher `code` ('' for none) by the buyer and phone.
local function use_voucher(keys, code, buyer, phone)
  if code == '' then return end
  redis.call('HINCRBY', keys[VOUCHER_USES], code .. ' used', 1)
  redis.call('HSET', keys[VOUCHER_USES], code .. ' buyer ' .. buyer, 'used',
    code .. ' phone ' .. phone, 'used')
end

-- The journal entry riding with an order (KEYS 14 and 15; ARGV from
-- `first`: id, list cap, field/value pairs), written once; nothing
-- without KEYS[14].
local function journal(keys, args, first)
  if not keys[14] or redis.call('EXISTS', keys[14]) == 1 then return end
  local fields = {}
  for i = first + 2, #args do fields[#fields + 1] = args[i] end
  redis.call('HSET', keys[14], unpack(fields))
  redis.call('LPUSH', keys[15], args[first])
  redis.call('LTRIM', keys[15], 0, tonumber(args[first + 1]) - 1)
end

-- Stores a new order under the hold it consumed, indexes it by id, and
-- lists it among the buyer's.
local function record_order(keys, buyer, hold_id, order_id, order)
  redis.call('HSET', keys[ORDERS], hold_id, order)
  redis.call('HSET', keys[ORDER_INDEX], order_id, hold_id)
  list_append(keys[BUYERS], 'orders ' .. buyer, hold_id)
end

-- ARGV: now, buyer id, hold id, order JSON (built by the server, priced
-- with the voucher), the order's normalised shipping phone, its id, the
-- voucher code ('' for none), then a journal entry's arguments (if KEYS[14]).
-- Reply: `created` and the new order when
-- this call made it, `confirmed` and the stored order when an earlier call
-- did, `limit_reached` when the phone has ordered the per-buyer limit.
local function confirm(keys, args)
  local now, buyer, hold_id, order = tonumber(args[1]), args[2], args[3], args[4]
  local phone = 'phone ' .. args[5]
  local hold, status, refusal = own_hold(keys, hold_id, buyer)
  if refusal then return refusal end
  if status == 'confirmed' then return {'confirmed', redis.call('HGET', keys[ORDERS], hold_id)} end
  if status == 'cancelled' then return {'hold_not_found'} end
  if status == 'expired' then return {'hold_expired'} end
  if now >= hold.expires_at then
    release(keys, hold_id, hold, 'expired')
    return {'hold_expired'}
  end
  -- The per-buyer limit also holds per phone number: one person with two
  -- devices (two identities) still orders at most the limit.
  local ordered = tonumber(redis.call('HGET', keys[BUYERS], phone) or '0')
  local limit = tonumber(redis.call('HGET', keys[META], 'per_buyer_limit'))
  if ordered + hold.quantity > limit then return {'limit_reached'} end
  local code = args[7] or ''
  local refused = voucher_refusal(keys, code, buyer, args[5], now)
  if refused then return refused end

  use_voucher(keys, code, buyer, args[5])
  redis.call('HINCRBY', keys[BUYERS], phone, hold.quantity)
  redis.call('ZREM', keys[DEADLINES], hold_id)
  redis.call('HSET', keys[STATUSES], hold_id, 'confirmed')
  record_order(keys, buyer, hold_id, args[6], order)
  journal(keys, args, 8)
  return {'created', order}
end

-- Compare-and-set of an order (the server applies the transition rule,
-- fulfilment.rs, to what it read). ARGV: now, hold id, the order JSON as
-- read, the order JSON to write, units to give back (the quantity when the
-- change cancels the order, else 0), then a journal entry's arguments (if
-- KEYS[14]). Reply: ok, or `conflict` when the
-- order changed since it was read (the server reads again).
local function update_order(keys, args)
  local hold_id, read, write, returned = args[2], args[3], args[4], tonumber(args[5])
  local stored = redis.call('HGET', keys[ORDERS], hold_id)
  if not stored then return {'order_not_found'} end
  if stored ~= read then return {'conflict'} end
  local order = cjson.decode(stored)
  if returned > 0 then
    -- Exactly once: only an order that is not cancelled yet gives back.
    if order.status == 'cancelled' or order.quantity ~= returned then return {'bad_update'} end
  end

  redis.call('HSET', keys[ORDERS], hold_id, write)
  if returned > 0 then
    local phone = order.shipping.phone
    if type(order.lines) == 'table' and #order.lines > 0 then
      -- A bag order: each line's units back to its product.
      for _, line in ipairs(order.lines) do
        redis.call('HINCRBY', keys[STOCK], line.product_id, line.quantity)
        lower(keys[BUYERS], 'units ' .. line.product_id .. ' ' .. order.buyer_id, line.quantity)
        lower(keys[BUYERS], 'phone ' .. line.product_id .. ' ' .. phone, line.quantity)
      end
    else
      give_back(keys, returned)
      lower(keys[BUYERS], order.buyer_id, returned)
      lower(keys[BUYERS], 'phone ' .. phone, returned)
    end
    -- Its voucher's use comes back too (while the voucher is still kept):
    -- a drop goes back to claimed, a typed voucher may be used again.
    local code = order.voucher_code
    if type(code) == 'string' and code ~= '' then
      local raw = redis.call('HGET', keys[VOUCHERS], code)
      if raw then
        if tonumber(redis.call('HGET', keys[VOUCHER_USES], code .. ' used') or '0') > 0 then
          redis.call('HINCRBY', keys[VOUCHER_USES], code .. ' used', -1)
        end
        local by = code .. ' buyer ' .. order.buyer_id
        if cjson.decode(raw).drop then
          redis.call('HSET', keys[VOUCHER_USES], by, 'claimed')
        else
          redis.call('HDEL', keys[VOUCHER_USES], by)
        end
        redis.call('HDEL', keys[VOUCHER_USES], code .. ' phone ' .. order.shipping.phone)
      end
    end
  end
  journal(keys, args, 6)
  return {'ok'}
end

-- ARGV: now, buyer id, hold id.
local function cancel(keys, args)
  local now, buyer, hold_id = tonumber(args[1]), args[2], args[3]
  local hold, status, refusal = own_hold(keys, hold_id, buyer)
  if refusal then return refusal end
  if status == 'cancelled' then return {'cancelled'} end
  if status == 'confirmed' then return {'hold_not_found'} end
  if status == 'expired' then return {'hold_expired'} end
  if now >= hold.expires_at then
    release(keys, hold_id, hold, 'expired')
    return {'hold_expired'}
  end
  release(keys, hold_id, hold, 'cancelled')
  return {'cancelled'}
end

-- ARGV: now. Ends the sale at `now` unless it has ended already (when it is
-- the room's current sale, the room is free for the next one from `now`),
-- and closes it: what is left goes back to the product, once.
local function end_sale(keys, args)
  local now = tonumber(args[1])
  local m = redis.call('HMGET', keys[META], 'ends_at', 'ended', 'sale_id')
  if not m[1] then return {'sale_not_found'} end
  if m[2] == '1' or now >= tonumber(m[1]) then
    close(keys)
    return {'ok'}
  end
  local current = redis.call('HGET', keys[CURRENT_SALE], 'sale_id')

  redis.call('HSET', keys[META], 'ended', '1', 'ends_at', args[1])
  if current == m[3] then
    redis.call('HSET', keys[CURRENT_SALE], 'ends_at', args[1])
  end
  close(keys)
  return {'ok'}
end

-- ARGV: now, most holds to expire in this call. Returns expired holds'
-- units and, once the sale has ended, closes it (its leftover goes back to
-- the product).
-- Reply: ok, units returned to the sale, remaining, retired (1/0), units
-- that went to the product's stock in this call, the product's id.
local function expire_due(keys, args)
  local now = tonumber(args[1])
  local m = redis.call('HMGET', keys[META], 'remaining', 'ended', 'ends_at', 'product_id')
  if not m[1] then return {'sale_not_found'} end
  local due = redis.call('ZRANGEBYSCORE', keys[DEADLINES], '-inf', args[1], 'LIMIT', 0, tonumber(args[2]))
  local holds = {}
  for i, hold_id in ipairs(due) do
    local raw = redis.call('HGET', keys[HOLDS], hold_id)
    holds[i] = raw and cjson.decode(raw) or false
  end
  local stock_before = tonumber(redis.call('HGET', keys[STOCK], m[4]) or '0')
  local remaining_before = tonumber(m[1])
  for i, hold_id in ipairs(due) do
    if holds[i] then
      release(keys, hold_id, holds[i], 'expired')
    else
      redis.call('ZREM', keys[DEADLINES], hold_id)
    end
  end
  local ended = m[2] == '1' or now >= tonumber(m[3])
  local remaining = tonumber(redis.call('HGET', keys[META], 'remaining'))
  local returned = math.max(remaining - remaining_before, 0)
  if ended then close(keys) end
  local to_product = tonumber(redis.call('HGET', keys[STOCK], m[4]) or '0') - stock_before
  local pending = redis.call('ZCARD', keys[DEADLINES])
  local retired = (ended and pending == 0) and '1' or '0'
  return {'ok', int(returned), redis.call('HGET', keys[META], 'remaining'), retired, int(to_product),
    m[4]}
end

-- The bag. ARGV: now, buyer id, buyer name, quantity, idempotency field,
-- new hold id, product id, product name, unit price, per-buyer limit (0:
-- none), the product's stock as the catalog gives it (used only the first
-- time this product is seen), hold seconds. Reply: the outcome, the hold
-- JSON ('' when refused) and the product's stock after.
local function bag_add(keys, args)
  local now, buyer, name, qty = tonumber(args[1]), args[2], args[3], tonumber(args[4])
  local idem_field, hold_id, product = args[5], args[6], args[7]
  local limit, hold_secs = tonumber(args[10]), tonumber(args[12])
  local on_hand = tonumber(redis.call('HGET', keys[STOCK], product) or args[11])
  local prior = redis.call('HGET', keys[IDEM], idem_field)
  if prior then return {'duplicate', redis.call('HGET', keys[HOLDS], prior), int(on_hand)} end
  if on_hand < qty then return {'sold_out', '', int(on_hand)} end
  local counted = 'units ' .. product .. ' ' .. buyer
  local had = tonumber(redis.call('HGET', keys[BUYERS], counted) or '0')
  if limit > 0 and had + qty > limit then return {'limit_reached', '', int(on_hand)} end

  local expires_at = now + hold_secs * 1000
  local hold = cjson.encode({hold_id = hold_id, product_id = product, product_name = args[8],
    unit_price_vnd = tonumber(args[9]), quantity = qty, expires_at = expires_at,
    buyer_id = buyer, buyer_name = name, per_buyer_limit = limit})
  redis.call('HSET', keys[STOCK], product, int(on_hand - qty))
  redis.call('HINCRBY', keys[BUYERS], counted, qty)
  list_append(keys[BUYERS], 'holds ' .. buyer, hold_id)
  redis.call('HSET', keys[IDEM], idem_field, hold_id)
  redis.call('HSET', keys[HOLDS], hold_id, hold)
  redis.call('HSET', keys[STATUSES], hold_id, 'held')
  redis.call('ZADD', keys[DEADLINES], int(expires_at), hold_id)
  return {'reserved', hold, int(on_hand - qty)}
end

-- ARGV: now, buyer id, order JSON (built by the server from the holds,
-- priced with the voucher), the normalised shipping phone, the order id,
-- the voucher code ('' for none), the number of holds n, the hold ids,
-- sorted (the first names the order), then a journal entry's arguments (if
-- KEYS[14]). All or nothing. Reply as `confirm`'s.
local function bag_checkout(keys, args)
  local now, buyer, order, phone, code = tonumber(args[1]), args[2], args[3], args[4], args[6]
  local last = 7 + tonumber(args[7])
  local holds, statuses = {}, {}
  for i = 8, last do
    local hold, status, refusal = own_hold(keys, args[i], buyer)
    if refusal then return refusal end
    holds[#holds + 1], statuses[#statuses + 1] = hold, status
  end
  if statuses[1] == 'confirmed' then
    local stored = redis.call('HGET', keys[ORDERS], args[8])
    if stored then return {'confirmed', stored} end
  end
  local wanted, limits = {}, {}
  for i, hold in ipairs(holds) do
    local status = statuses[i]
    if status == 'confirmed' or status == 'cancelled' then return {'hold_not_found'} end
    if status == 'expired' then return {'hold_expired'} end
    if now >= hold.expires_at then
      release(keys, args[7 + i], hold, 'expired')
      return {'hold_expired'}
    end
    wanted[hold.product_id] = (wanted[hold.product_id] or 0) + hold.quantity
    limits[hold.product_id] = tonumber(hold.per_buyer_limit) or 0
  end
  for product, units in pairs(wanted) do
    local ordered = tonumber(redis.call('HGET', keys[BUYERS], 'phone ' .. product .. ' ' .. phone) or '0')
    if limits[product] > 0 and ordered + units > limits[product] then return {'limit_reached'} end
  end
  local refused = voucher_refusal(keys, code, buyer, phone, now)
  if refused then return refused end

  use_voucher(keys, code, buyer, phone)
  for i, hold in ipairs(holds) do
    redis.call('ZREM', keys[DEADLINES], args[7 + i])
    redis.call('HSET', keys[STATUSES], args[7 + i], 'confirmed')
    redis.call('HINCRBY', keys[BUYERS], 'phone ' .. hold.product_id .. ' ' .. phone, hold.quantity)
  end
  record_order(keys, buyer, args[8], args[5], order)
  journal(keys, args, last + 1)
  return {'created', order}
end

-- ARGV: now, most holds to expire in this call. Gives due bag holds' units
-- back to their products. Reply: ok, units returned, whether no hold is
-- pending any more (1/0), then the products whose stock rose.
local function bag_expire_due(keys, args)
  local due = redis.call('ZRANGEBYSCORE', keys[DEADLINES], '-inf', args[1], 'LIMIT', 0, tonumber(args[2]))
  local returned, restocked, seen = 0, {}, {}
  for _, hold_id in ipairs(due) do
    local raw = redis.call('HGET', keys[HOLDS], hold_id)
    if raw then
      local hold = cjson.decode(raw)
      local units = release(keys, hold_id, hold, 'expired')
      returned = returned + units
      if units > 0 and not seen[hold.product_id] then
        seen[hold.product_id] = true
        restocked[#restocked + 1] = hold.product_id
      end
    else
      redis.call('ZREM', keys[DEADLINES], hold_id)
    end
  end
  local idle = redis.call('ZCARD', keys[DEADLINES]) == 0 and '1' or '0'
  return {'ok', int(returned), idle, unpack(restocked)}
end

-- Vouchers. KEYS: {room:R}:vouchers, {room:R}:voucher_uses.
-- ARGV: code, voucher JSON. Reply: ok, or voucher_exists.
local function voucher_create(keys, args)
  if redis.call('HSETNX', keys[1], args[1], args[2]) == 0 then return {'voucher_exists'} end
  return {'ok'}
end

-- ARGV: now, code. Opens a drop voucher for claiming.
local function voucher_drop(keys, args)
  local raw = redis.call('HGET', keys[1], args[2])
  if not raw then return {'voucher_not_found'} end
  local v = cjson.decode(raw)
  if not v.drop then return {'voucher_not_dropped'} end
  local now = tonumber(args[1])
  if now < v.starts_at or now >= v.ends_at then return {'voucher_expired'} end
  redis.call('HSET', keys[2], args[2] .. ' dropped', '1')
  return {'ok'}
end

-- ARGV: now, code, buyer id. Exactly total_uses claims succeed.
local function voucher_claim(keys, args)
  local code, buyer = args[2], args[3]
  local raw = redis.call('HGET', keys[1], code)
  if not raw then return {'voucher_not_found'} end
  local v = cjson.decode(raw)
  if not v.drop or redis.call('HGET', keys[2], code .. ' dropped') ~= '1' then
    return {'voucher_not_dropped'}
  end
  local now = tonumber(args[1])
  if now < v.starts_at or now >= v.ends_at then return {'voucher_expired'} end
  local field = code .. ' buyer ' .. buyer
  local by = redis.call('HGET', keys[2], field)
  if by == 'claimed' then return {'ok'} end
  if by == 'used' then return {'voucher_already_used'} end
  if tonumber(redis.call('HGET', keys[2], code .. ' claimed') or '0') >= v.total_uses then
    return {'voucher_used_up'}
  end
  redis.call('HINCRBY', keys[2], code .. ' claimed', 1)
  redis.call('HSET', keys[2], field, 'claimed')
  return {'ok'}
end

-- Proves the library is loaded (health checks call it, not just PING).
local function ping()
  return {'pong'}
end

redis.register_function('chophien_create_sale', create_sale)
redis.register_function('chophien_buy', buy)
redis.register_function('chophien_buy_batch', buy_batch)
redis.register_function('chophien_confirm', confirm)
redis.register_function('chophien_cancel', cancel)
redis.register_function('chophien_update_order', update_order)
redis.register_function('chophien_end_sale', end_sale)
redis.register_function('chophien_bag_add', bag_add)
redis.register_function('chophien_bag_checkout', bag_checkout)
redis.register_function('chophien_bag_expire_due', bag_expire_due)
redis.register_function('chophien_voucher_create', voucher_create)
redis.register_function('chophien_voucher_drop', voucher_drop)
redis.register_function('chophien_voucher_claim', voucher_claim)
redis.register_function('chophien_expire_due', expire_due)
redis.register_function{function_name = 'chophien_ping', callback = ping, flags = {'no-writes'}}
