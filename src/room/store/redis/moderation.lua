--[[
Chợ Phiên room functions, moderation: deleting messages, mutes, bans, slow
mode and banned words, with the rank rule (Moderation in Rust). The third
part of the library `chophien`: it uses the keys and helpers that room.lua
defines before it (src/redis_link.rs concatenates them).
]]
-- ARGV[4..]: user, rank, message id.
local function delete_message(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local user, rank, id = args[4], tonumber(args[5]), tonumber(args[6])
  local found, message = nil, nil
  for _, raw in ipairs(redis.call('LRANGE', keys[CHAT], 0, -1)) do
    local m = cjson.decode(raw)
    if m.id == id then found, message = raw, m; break end
  end
  if not found then return {'message_not_found'} end
  -- Anyone may take back their own words; others' only from below.
  if message.user_id ~= user and rank <= tonumber(message.rank) then return {'outranked'} end

  redis.call('LREM', keys[CHAT], 1, found)
  publish(keys, args, {'{"type":"message_deleted","message_id":' .. num(id) .. '}'})
  return {'ok'}
end

-- ARGV[4..]: user, rank, target, minutes, most minutes.
local function mute(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local rank, target, minutes = tonumber(args[5]), args[6], tonumber(args[7])
  refusal = may_act_on(args[4], rank, target, rank_of(keys, target))
  if refusal then return refusal end
  if minutes < 1 or minutes > tonumber(args[8]) then return {'bad_minutes'} end

  local until_at = tonumber(args[2]) + minutes * 60000
  redis.call('HSET', keys[MUTES], target, num(until_at) .. ':' .. num(rank))
  publish(keys, args, {cjson.encode({type = 'user_muted', user_id = target, ['until'] = until_at})})
  return {'ok'}
end

-- ARGV[4..]: user, rank, target.
local function unmute(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local rank, target = tonumber(args[5]), args[6]
  refusal = may_act_on(args[4], rank, target, rank_of(keys, target))
  if refusal then return refusal end
  local mute = redis.call('HGET', keys[MUTES], target)
  if mute and tonumber(string.match(mute, ':(%d+)$')) > rank then return {'outranked'} end

  redis.call('HDEL', keys[MUTES], target)
  publish(keys, args, {cjson.encode({type = 'user_unmuted', user_id = target})})
  return {'ok'}
end

-- ARGV[4..]: user, rank, target.
local function ban(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local rank, target = tonumber(args[5]), args[6]
  -- The name the target last chatted under, if the history still holds it.
  local name = nil
  local messages = redis.call('LRANGE', keys[CHAT], 0, -1)
  for i = #messages, 1, -1 do
    local m = cjson.decode(messages[i])
    if m.user_id == target then name = m.name; break end
  end
  refusal = may_act_on(args[4], rank, target, rank_of(keys, target))
  if refusal then return refusal end

  local record = {by_rank = rank, name = name or cjson.null}
  local raw = redis.call('HGET', keys[BANS], target)
  if raw then
    local old = cjson.decode(raw)
    record.by_rank = math.max(rank, tonumber(old.by_rank))
    if not name then record.name = old.name end
  end
  redis.call('HSET', keys[BANS], target, cjson.encode(record))
  publish(keys, args, {cjson.encode({type = 'user_banned', user_id = target,
    name = name or cjson.null, by_rank = rank})})
  return {'ok'}
end

-- ARGV[4..]: user, rank, target.
local function unban(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  local rank, target = tonumber(args[5]), args[6]
  refusal = may_act_on(args[4], rank, target, rank_of(keys, target))
  if refusal then return refusal end
  local by_rank = ban_rank(keys, target)
  if redis.call('HEXISTS', keys[BANS], target) == 0 then return {'not_banned'} end
  if by_rank > rank then return {'outranked'} end

  redis.call('HDEL', keys[BANS], target)
  publish(keys, args, {cjson.encode({type = 'user_unbanned', user_id = target})})
  return {'ok'}
end

-- ARGV[4..]: user, rank, seconds, most seconds.
local function slow_mode(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if tonumber(args[6]) > tonumber(args[7]) then return {'bad_slow_mode'} end
  redis.call('HSET', keys[ROOM], 'slow', args[6])
  publish(keys, args, {'{"type":"settings_changed","settings":{"slow_mode_seconds":'
    .. num(tonumber(args[6])) .. '}}'})
  return {'ok'}
end

-- ARGV[4..]: user, rank, words asked for, most words, then the words
-- (trimmed, lower-cased, none empty). No event: the list stays private.
local function banned_words(keys, args)
  local _, refusal = admit_actor(keys, args)
  if refusal then return refusal end
  if tonumber(args[6]) > tonumber(args[7]) then return {'too_many_words'} end
  redis.call('DEL', keys[WORDS])
  if #args > 7 then redis.call('RPUSH', keys[WORDS], unpack(args, 8)) end
  return {'ok'}
end

redis.register_function('chophien_room_delete_message', delete_message)
redis.register_function('chophien_room_mute', mute)
redis.register_function('chophien_room_unmute', unmute)
redis.register_function('chophien_room_ban', ban)
redis.register_function('chophien_room_unban', unban)
redis.register_function('chophien_room_slow_mode', slow_mode)
redis.register_function('chophien_room_banned_words', banned_words)
