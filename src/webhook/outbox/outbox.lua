--[[
Chợ Phiên webhook outbox functions, for src/webhook/outbox/redis.rs. Part
of the library `chophien` (src/redis_link.rs concatenates the parts); in a
`do` block so its locals stay its own.

  {room:R}:webhook:config      hash    url, secret, updated_at (plain commands)
  {room:R}:webhook:event:<id>  hash    one delivery: room_id, event_type, body,
                                       created_at, attempts, state,
                                       next_attempt_at, last_attempt_at,
                                       last_status, last_error ("" = none);
                                       expires once settled
  {room:R}:webhook:log         list    the room's latest event ids, newest first
  chophien:webhooks:due        zset    `<room>/<id>` by due time (unix ms),
                                       or by lease end while being attempted

A function touches the keys of one slot only: the room's keys, or the
untagged due index. The Rust side orders its calls so that an entry is
always reachable from the index (see redis.rs).
]]
do
  -- Field/value pairs from args[first] on, for HSET.
  local function pairs_from(args, first)
    local fields = {}
    for i = first, #args do fields[#fields + 1] = args[i] end
    return fields
  end

  -- KEYS: event, log. ARGV: event id, log size, field/value pairs.
  -- Writes a new entry and lists it first in the room's log. Answers 1, or
  -- 0 if the entry exists already (nothing changes).
  local function webhook_enqueue(keys, args)
    if redis.call('EXISTS', keys[1]) == 1 then return 0 end
    redis.call('HSET', keys[1], unpack(pairs_from(args, 3)))
    redis.call('LPUSH', keys[2], args[1])
    redis.call('LTRIM', keys[2], 0, tonumber(args[2]) - 1)
    return 1
  end

  -- KEYS: due. ARGV: now, lease end, limit. Claims up to `limit` members
  -- due at `now`: each one's score moves to the lease end in this same
  -- step, so no other worker claims it before the lease runs out.
  local function webhook_claim(keys, args)
    local due = redis.call('ZRANGE', keys[1], '-inf', args[1], 'BYSCORE', 'LIMIT', 0, args[3])
    for _, member in ipairs(due) do
      redis.call('ZADD', keys[1], 'XX', args[2], member)
    end
    return due
  end

  -- KEYS: event. ARGV: attempts before, time to live in ms (0: none),
  -- field/value pairs. Records an attempt's outcome if the entry still has
  -- that many attempts. Answers 1 written, 0 another outcome was recorded
  -- first, -1 no such entry.
  local function webhook_record(keys, args)
    local attempts = redis.call('HGET', keys[1], 'attempts')
    if not attempts then return -1 end
    if attempts ~= args[1] then return 0 end
    redis.call('HSET', keys[1], unpack(pairs_from(args, 3)))
    if tonumber(args[2]) > 0 then
      redis.call('PEXPIRE', keys[1], args[2])
    else
      redis.call('PERSIST', keys[1])
    end
    return 1
  end

  -- KEYS: event. ARGV: now. Makes the entry pending and due now, kept
  -- until settled again. Answers 1, or 0 if there is no such entry.
  local function webhook_retry(keys, args)
    if redis.call('EXISTS', keys[1]) == 0 then return 0 end
    redis.call('HSET', keys[1], 'state', 'pending', 'next_attempt_at', args[1])
    redis.call('PERSIST', keys[1])
    return 1
  end

  redis.register_function('chophien_webhook_enqueue', webhook_enqueue)
  redis.register_function('chophien_webhook_claim', webhook_claim)
  redis.register_function('chophien_webhook_record', webhook_record)
  redis.register_function('chophien_webhook_retry', webhook_retry)
end
