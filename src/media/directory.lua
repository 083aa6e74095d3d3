--[[
Chợ Phiên media functions: which node publishes a room's stream (its
origin), for src/media/redis_directory.rs. Part of the library `chophien`
(src/redis_link.rs concatenates the parts).

  KEYS[1]  {room:R}:media:epoch   string  the room's last claim epoch (INCR:
                                          only grows, also across releases)
  KEYS[2]  {room:R}:media:origin  hash    id, url, epoch of the current origin

Both keys carry the room's tag (one Cluster slot); `chophien_room_end` gives
them the ended room's TTL like every other key of the room.
]]

-- ARGV: node id, node url. The newest claim wins; answers its epoch.
local function media_claim(keys, args)
  local epoch = redis.call('INCR', keys[1])
  redis.call('HSET', keys[2], 'id', args[1], 'url', args[2], 'epoch', epoch)
  -- A claim in a room that has ended expires with the room.
  local ttl = redis.call('PTTL', keys[1])
  if ttl > 0 then redis.call('PEXPIRE', keys[2], ttl) end
  return epoch
end

-- Answers {id, url, epoch}, all false when no node publishes the room.
local function media_origin(keys, args)
  return redis.call('HMGET', keys[2], 'id', 'url', 'epoch')
end

-- ARGV: node id, epoch. Compare-and-delete: clears the origin only if it is
-- still that node's claim at that epoch; answers 1 if it did.
local function media_release(keys, args)
  local current = redis.call('HMGET', keys[2], 'id', 'epoch')
  if current[1] == args[1] and current[2] == args[2] then
    redis.call('DEL', keys[2])
    return 1
  end
  return 0
end

redis.register_function('chophien_media_claim', media_claim)
redis.register_function('chophien_media_release', media_release)
redis.register_function{function_name = 'chophien_media_origin', callback = media_origin,
  flags = {'no-writes'}}
