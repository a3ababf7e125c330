-- One routing decision (nil when nothing is left to decide): the longest-idle dirty agent picks the best
-- waiting contact it may serve, which goes to the best agent of its queue's strategy; else the best dirty
-- contact gets the best free agent(s). Find and claim happen in this one call. Marks that no longer
-- need a decision (the agent is not free or has nothing it may serve; no agent is free for the contact)
-- are dropped on the way, up to SKIP of them.
-- The reply's last element: how many dirty agents are left to decide, else how many dirty contacts.
local SKIP = 16
local function more()
  local n = redis.call('ZCARD', K_DA)
  if n > 0 then return n end
  return redis.call('ZCARD', K_DC)
end
for _ = 1, SKIP do
  local top = redis.call('ZPOPMIN', K_DA)
  if #top == 0 then break end
  local a = A(top[1])
  if a and free(a) then
    local lists = redis.call('SINTER', K_WALL, K2('as', a.agent_id))
    if #lists > 0 then
      match_agent(a, lists)
      return reply(nil, more())
    end
  end
end
for _ = 1, SKIP do
  local top = redis.call('ZPOPMIN', K_DC)
  if #top == 0 then break end
  local c = C(cid_of(top[1]))
  if c and c.status == 'waiting' then
    local keys = {}
    for tier = 0, num(c.overflow_step, 0) do keys[#keys + 1] = Kp(c.queue, tier, c.channel, c.language) end
    if redis.call('EXISTS', unpack(keys)) > 0 and match_contact(c) then   -- pools may hold stale members
      return reply(nil, more())
    end
  end
end
if redis.call('EXISTS', K_DA, K_DC) > 0 then return reply(nil, more()) end
return false
