--[[
Chợ Phiên room functions: the second part of the library `chophien` (the
sale functions come first, in src/sale/redis/chophien.lua; moderation.lua and
facts.lua follow and use the keys and helpers defined here; src/redis_link.rs
concatenates them into one chunk and loads it as one library). This part:
creating, joining and ending rooms, chat, the catalog, pins and the
pinned note.

Each function is one atomic step of a room: it checks the room's rules (the
same as RoomState::apply and Moderation in Rust), changes the state, numbers
the resulting events with the room's next seq, appends each to the room's
bounded stream (XADD ... MAXLEN ~ N, entry id "<seq>-0", so resume is XRANGE)
and publishes it on the room's shard channel (SPUBLISH) — or changes nothing
and answers a refusal. Every read and check comes before the first write.

Every function receives the same fourteen keys, all tagged {room:R}:
  KEYS[1]  {room:R}:room          hash   info, status, seq, counters, settings, hearts,
                                         viewer count told, stream state, sale as last told,
                                         the pinned note (`note`: JSON, '' when none)
  KEYS[2]  {room:R}:products      hash   product id -> product JSON
  KEYS[3]  {room:R}:catalog       list   product ids in catalog order
  KEYS[4]  {room:R}:chat          list   recent chat message JSON (plus the author's
                                         `rank`), oldest first, at most limits.chat_history
  KEYS[5]  {room:R}:ranks         hash   user id -> highest rank joined with (above viewer)
  KEYS[6]  {room:R}:mutes         hash   user id -> "<until ms>:<rank of who muted>"
  KEYS[7]  {room:R}:bans          hash   user id -> {"by_rank":N,"name":...}
  KEYS[8]  {room:R}:banned_words  list   lower-cased banned words
  KEYS[9]  {room:R}:last_chat     hash   user id -> wall ms of their last message (slow mode)
  KEYS[10] {room:R}:viewers       hash   node id -> "<viewers>:<counted until ms>"
  KEYS[11] {room:R}:events        stream the room's recent events, entry id = seq, field e
  KEYS[12] {room:R}:current_sale  (the sale store's) expires with the room
  KEYS[13] {room:R}:sales         (the sale store's) a room id with a sale list is never reused
  KEYS[14] {room:R}:journal       stream the session journal (src/journal): every event, as
                                         {"at":ms,"type":"event","event":{...}} in field j, when
                                         the room was created with its journal on (hash field
                                         `journal`: its retention in seconds, '0' when off); at
                                         the end it expires after that, not after ended_ttl
and `chophien_room_end` the media directory's two (directory.lua), the
seller's bank account ({room:R}:payment, src/payment/store.rs) and five
more per sale of the room: the keys that expire with it (a sale's meta and
orders stay for the orders export).

ARGV[1] is the room's shard channel ({room:R}:feed), ARGV[2] the caller's
wall time (unix ms, never Redis TIME), ARGV[3] the stream's MAXLEN; the
function's own arguments follow. Ranks are numbers (Role::rank): viewer 0.

Events are JSON objects in the RoomEvent shape, built here; `user_banned`
carries `by_rank` (internal: which connections the ban ends). Published and
stored with their seq first: {"seq":N,"type":...}. Numbers stay below 1e14
(prices, stock, unix ms, counters), which cjson writes as plain integers.

Replies are arrays whose first element is the outcome (`ok`, `snapshot`,
`resumed`, ...) or a refusal word (`room_not_found`, `ended`, `banned`,
`own_identity`, `outranked`, `precheck`, ...), mapped to RoomError in Rust.
]]
local ROOM, PRODUCTS, CATALOG, CHAT, RANKS, MUTES, BANS, WORDS = 1, 2, 3, 4, 5, 6, 7, 8
local LAST_CHAT, VIEWERS, EVENTS, SALES, JOURNAL = 9, 10, 11, 13, 14

local function num(n)
  return string.format('%d', n)
end

-- The room's status, or nil and the refusal for a room that is unknown
-- or has ended.
local function live(keys)
  local status = redis.call('HGET', keys[ROOM], 'status')
  if not status then return nil, {'room_not_found'} end
  if status == 'ended' then return nil, {'ended'} end
  return status, nil
end

-- The rank of who banned `user`, 0 when not banned.
local function ban_rank(keys, user)
  local raw = redis.call('HGET', keys[BANS], user)
  if not raw then return 0 end
  return tonumber(cjson.decode(raw).by_rank)
end

-- The room is live and the actor (ARGV[4] id, ARGV[5] rank) not banned.
local function admit_actor(keys, args)
  local status, refusal = live(keys)
  if refusal then return nil, refusal end
  if ban_rank(keys, args[4]) > tonumber(args[5]) then return nil, {'banned'} end
  return status, nil
end

-- The rank the room has seen `user` join with (0: a viewer, or never seen).
local function rank_of(keys, user)
  return tonumber(redis.call('HGET', keys[RANKS], user) or '0')
end

-- The rank rule: nobody acts on themselves or on an equal or higher rank.
local function may_act_on(by_user, by_rank, user, rank)
  if user == by_user then return {'own_identity'} end
  if by_rank <= rank then return {'outranked'} end
  return nil
end

-- Numbers, records and publishes `events` (JSON object strings).
local function publish(keys, args, events)
  if #events == 0 then return end
  local state = redis.call('HMGET', keys[ROOM], 'seq', 'journal')
  local seq, journal = tonumber(state[1]), (state[2] or '0') ~= '0'
  for _, event in ipairs(events) do
    seq = seq + 1
    local json = '{"seq":' .. num(seq) .. ',' .. string.sub(event, 2)
    redis.call('XADD', keys[EVENTS], 'MAXLEN', '~', args[3], num(seq) .. '-0', 'e', json)
    redis.call('SPUBLISH', args[1], json)
    if journal then
      redis.call('XADD', keys[JOURNAL], '*', 'j',
        '{"at":' .. args[2] .. ',"type":"event","event":' .. json .. '}')
    end
  end
  redis.call('HSET', keys[ROOM], 'seq', num(seq))
end

local function product_event(kind, product_json)
  return '{"type":"' .. kind .. '","product":' .. product_json .. '}'
end

-- ARGV[4..]: id, title, seller name, created_at, the journal's retention
-- in seconds ('0': no journal), practice room ('1') or not ('0'), planned
-- start ('' for none), cover address ('' for none), then id and JSON of
-- each product of the catalog, in order.
local function create(keys, args)
  if redis.call('EXISTS', keys[ROOM]) == 1 or redis.call('EXISTS', keys[SALES]) == 1 then
    return {'already_exists'}
  end
  local products = (#args - 11) / 2
  redis.call('HSET', keys[ROOM], 'id', args[4], 'title', args[5], 'seller_name', args[6],
    'status', 'scheduled', 'created_at', args[7], 'pinned', '', 'seq', '0',
    'next_message', '1', 'next_product', num(products + 1), 'slow', '0',
    'hearts_total', '0', 'hearts_pending', '0', 'hearts_at', '0', 'viewers', '0',
    'stream_live', '0', 'journal', args[8], 'practice', args[9],
    'starts_at', args[10], 'cover', args[11])
  for i = 12, #args - 1, 2 do
    redis.call('HSET', keys[PRODUCTS], args[i], args[i + 1])
    redis.call('RPUSH', keys[CATALOG], args[i])
  end
  return {'ok'}
end

-- ARGV[4..]: user, rank, last_seq ('' for none), replay capacity.
-- Reply: resumed, seq, {event JSON...} | snapshot, seq, title, seller name,
-- status, created_at, pinned id, viewers, slow, hearts total, stream live,
-- sale JSON, {product JSON...}, {message JSON...}, {user, ban JSON, ...},
-- practice flag ('1', '0', or '' for rooms from before practice rooms),
-- planned start and cover address ('' for none), pinned note JSON ('' when
-- none).
local function join(keys, args)
  local _, refusal = live(keys)
  if refusal then return refusal end
  local user, rank = args[4], tonumber(args[5])
  if ban_rank(keys, user) > rank then return {'banned'} end
  local seq = tonumber(redis.call('HGET', keys[ROOM], 'seq'))
  local frames = nil
  if args[6] ~= '' then
    local last, capacity = tonumber(args[6]), tonumber(args[7])
    if last == seq then
      frames = {}
    elseif last < seq and seq - last <= capacity then
      local entries = redis.call('XRANGE', keys[EVENTS], num(last + 1) .. '-0', '+')
      if #entries == seq - last and entries[1][1] == num(last + 1) .. '-0' then
        frames = {}
        for i, entry in ipairs(entries) do frames[i] = entry[2][2] end
      end
    end
  end

  if rank > 0 and rank > rank_of(keys, user) then
    redis.call('HSET', keys[RANKS], user, num(rank))
  end
  if frames then return {'resumed', num(seq), frames} end
  local r = redis.call('HMGET', keys[ROOM], 'title', 'seller_name', 'status', 'created_at',
    'pinned', 'viewers', 'slow', 'hearts_total', 'stream_live', 'sale', 'practice',
    'starts_at', 'cover', 'note')
  local products = {}
  for i, id in ipairs(redis.call('LRANGE', keys[CATALOG], 0, -1)) do
    products[i] = redis.call('HGET', keys[PRODUCTS], id)
  end
  return {'snapshot', num(seq), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
    r[10] or '', products, redis.call('LRANGE', keys[CHAT], 0, -1),
    redis.call('HGETALL', keys[BANS]), r[11] or '', r[12] or '', r[13] or '', r[14] or ''}
end

-- ARGV[4..]: user, rank, role, name, precheck ('' or refused), text,
-- lower-cased text, chat history size, id of the message answered ('').
local function chat(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if args[8] ~= '' then return {'precheck'} end
  local quote = nil
  if args[12] ~= '' then
    local asked = tonumber(args[12])
    for _, raw in ipairs(redis.call('LRANGE', keys[CHAT], 0, -1)) do
      local m = cjson.decode(raw)
      if m.id == asked then
        quote = {id = m.id, user_id = m.user_id, name = m.name, text = m.text}
        break
      end
    end
    if not quote then return {'message_not_found'} end
  end
  local now, user, rank = tonumber(args[2]), args[4], tonumber(args[5])
  local mute, mute_ended = redis.call('HGET', keys[MUTES], user), false
  if mute then
    local until_at, by_rank = string.match(mute, '^(%d+):(%d+)$')
    if tonumber(until_at) <= now then
      mute_ended = true
    elseif tonumber(by_rank) > rank then
      return {'muted', until_at}
    end
  end
  local slow = tonumber(redis.call('HGET', keys[ROOM], 'slow'))
  if args[6] == 'viewer' and slow > 0 then
    local last = redis.call('HGET', keys[LAST_CHAT], user)
    if last and tonumber(last) + slow * 1000 > now then
      refusal = {'slow_mode', num(tonumber(last) + slow * 1000 - now)}
    end
  end
  if not refusal then
    for _, word in ipairs(redis.call('LRANGE', keys[WORDS], 0, -1)) do
      if string.find(args[10], word, 1, true) then
        refusal = {'banned_word'}
        break
      end
    end
  end
  -- Like Moderation::admit_message, an ended mute is forgotten whatever
  -- follows (it no longer holds either way).
  if mute_ended then redis.call('HDEL', keys[MUTES], user) end
  if refusal then return refusal end

  redis.call('HSET', keys[LAST_CHAT], user, args[2])
  local id = redis.call('HINCRBY', keys[ROOM], 'next_message', 1) - 1
  local message = cjson.encode({id = id, user_id = user, name = args[7], role = args[6],
    text = args[9], sent_at = now, rank = rank, reply_to = quote})
  redis.call('RPUSH', keys[CHAT], message)
  redis.call('LTRIM', keys[CHAT], -tonumber(args[11]), -1)
  publish(keys, args, {'{"type":"chat","message":' .. message .. '}'})
  return {'ok'}
end

-- ARGV[4..]: user, rank.
local function go_live(keys, args)
  local status, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if status ~= 'scheduled' then return {'already_live'} end
  redis.call('HSET', keys[ROOM], 'status', 'live')
  publish(keys, args, {'{"type":"room_status","status":"live"}'})
  return {'ok'}
end

-- ARGV[4..]: user ('' when no one's command ends it), rank, reason, TTL
-- in seconds, then the room's sale ids as the caller read them (KEYS[15..16]
-- are the media directory's two keys, KEYS[17..] hold five keys of each
-- sale). Refuses with `sales_changed` when the room's
-- sale list differs, so every sale's keys get their TTL.
local function end_room(keys, args)
  local status, refusal
  if args[4] == '' then
    status, refusal = live(keys)
  else
    status, refusal = admit_actor(keys, args)
  end
  if not status then return refusal end
  local listed = redis.call('LRANGE', keys[SALES], 0, -1)
  if #listed ~= #args - 7 then return {'sales_changed'} end
  for i, sale_id in ipairs(listed) do
    if args[7 + i] ~= sale_id then return {'sales_changed'} end
  end

  redis.call('HSET', keys[ROOM], 'status', 'ended')
  publish(keys, args, {'{"type":"room_status","status":"ended"}',
    cjson.encode({type = 'room_closed', reason = args[6]})})
  -- The journal is kept for its own retention (each node's writer moves
  -- it on past its last entry); the sale list stays for the orders export.
  local journal = redis.call('HGET', keys[ROOM], 'journal') or '0'
  for i = 1, #keys do
    if i == JOURNAL then
      if journal ~= '0' then redis.call('EXPIRE', keys[i], journal) end
    elseif i ~= SALES then
      redis.call('EXPIRE', keys[i], args[7])
    end
  end
  return {'ok'}
end

-- ARGV[4..]: user, rank, precheck, product JSON (its id is given here),
-- most products.
local function add_product(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if redis.call('LLEN', keys[CATALOG]) >= tonumber(args[8]) then return {'too_many_products'} end
  if args[6] ~= '' then return {'precheck'} end

  local product = cjson.decode(args[7])
  product.id = 'p' .. num(redis.call('HINCRBY', keys[ROOM], 'next_product', 1) - 1)
  local json = cjson.encode(product)
  redis.call('HSET', keys[PRODUCTS], product.id, json)
  redis.call('RPUSH', keys[CATALOG], product.id)
  publish(keys, args, {product_event('product_upserted', json)})
  return {'ok'}
end

-- ARGV[4..]: user, rank, product id, precheck, changes JSON (only the
-- fields to set; image_url "" removes the image, per_buyer_limit 0 the
-- limit).
local function update_product(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local id = args[6]
  local raw = redis.call('HGET', keys[PRODUCTS], id)
  if not raw then return {'product_not_found'} end
  if args[7] ~= '' then return {'precheck'} end

  local product = cjson.decode(raw)
  for field, value in pairs(cjson.decode(args[8])) do product[field] = value end
  if product.image_url == '' then product.image_url = cjson.null end
  if product.per_buyer_limit == 0 then product.per_buyer_limit = nil end
  local json = cjson.encode(product)
  redis.call('HSET', keys[PRODUCTS], id, json)
  local events = {product_event('product_upserted', json)}
  if redis.call('HGET', keys[ROOM], 'pinned') == id then
    events[2] = product_event('product_pinned', json)
  end
  publish(keys, args, events)
  return {'ok'}
end

-- ARGV[4..]: user, rank, product id.
local function remove_product(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local id = args[6]
  if redis.call('HEXISTS', keys[PRODUCTS], id) == 0 then return {'product_not_found'} end

  redis.call('HDEL', keys[PRODUCTS], id)
  redis.call('LREM', keys[CATALOG], 1, id)
  local events = {}
  if redis.call('HGET', keys[ROOM], 'pinned') == id then
    redis.call('HSET', keys[ROOM], 'pinned', '')
    events[1] = '{"type":"product_unpinned"}'
  end
  events[#events + 1] = cjson.encode({type = 'product_removed', product_id = id})
  publish(keys, args, events)
  return {'ok'}
end

-- ARGV[4..]: user, rank, `pin` and a product id, or `unpin` and ''.
local function pin(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if args[6] == 'unpin' then
    if redis.call('HGET', keys[ROOM], 'pinned') == '' then return {'ok'} end
    redis.call('HSET', keys[ROOM], 'pinned', '')
    publish(keys, args, {'{"type":"product_unpinned"}'})
    return {'ok'}
  end
  local id = args[7]
  local json = redis.call('HGET', keys[PRODUCTS], id)
  if not json then return {'product_not_found'} end
  redis.call('HSET', keys[ROOM], 'pinned', id)
  publish(keys, args, {product_event('product_pinned', json)})
  return {'ok'}
end

-- The room as RoomInfo (the event `room_updated` carries it), from the
-- room hash: '' fields are absent values.
local function info_json(keys)
  local r = redis.call('HMGET', keys[ROOM], 'id', 'title', 'seller_name', 'status', 'viewers',
    'pinned', 'created_at', 'practice', 'starts_at', 'cover')
  local info = {id = r[1], title = r[2], seller_name = r[3], status = r[4],
    viewer_count = tonumber(r[5] or '0'), pinned_product_id = cjson.null,
    created_at = tonumber(r[7] or '0'), practice = r[8] == '1'}
  if r[6] and r[6] ~= '' then info.pinned_product_id = r[6] end
  if r[9] and r[9] ~= '' then info.starts_at = tonumber(r[9]) end
  if r[10] and r[10] ~= '' then info.cover_url = r[10] end
  return info
end

-- The seller's schedule changes (checked in Rust, schedule::check).
-- ARGV[4..]: user, rank, then for title, planned start and cover each a
-- flag ('1': change it) and the new value ('' clears a start or a cover).
local function update_info(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if args[6] == '1' then redis.call('HSET', keys[ROOM], 'title', args[7]) end
  if args[8] == '1' then redis.call('HSET', keys[ROOM], 'starts_at', args[9]) end
  if args[10] == '1' then redis.call('HSET', keys[ROOM], 'cover', args[11]) end
  publish(keys, args, {cjson.encode({type = 'room_updated', room = info_json(keys)})})
  return {'ok'}
end

-- ARGV[4..]: user, rank, `pin` or `unpin`, precheck ('' or refused),
-- the note JSON without `pinned_at` (the caller's time is stamped here).
-- The note lives in the room hash's `note` field ('' when none), so it
-- expires with the room.
local function note(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if args[6] == 'unpin' then
    if (redis.call('HGET', keys[ROOM], 'note') or '') == '' then return {'ok'} end
    redis.call('HSET', keys[ROOM], 'note', '')
    publish(keys, args, {'{"type":"note_unpinned"}'})
    return {'ok'}
  end
  if args[7] ~= '' then return {'precheck'} end
  local pinned = cjson.decode(args[8])
  pinned.pinned_at = tonumber(args[2])
  local json = cjson.encode(pinned)
  redis.call('HSET', keys[ROOM], 'note', json)
  publish(keys, args, {'{"type":"note_pinned","note":' .. json .. '}'})
  return {'ok'}
end

redis.register_function('chophien_room_create', create)
redis.register_function('chophien_room_join', join)
redis.register_function('chophien_room_chat', chat)
redis.register_function('chophien_room_go_live', go_live)
redis.register_function('chophien_room_end', end_room)
redis.register_function('chophien_room_add_product', add_product)
redis.register_function('chophien_room_update_product', update_product)
redis.register_function('chophien_room_remove_product', remove_product)
redis.register_function('chophien_room_pin', pin)
redis.register_function('chophien_room_update_info', update_info)
redis.register_function('chophien_room_note', note)
