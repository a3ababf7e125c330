-- One routing decision (nil when nothing is left to decide): the longest-idle dirty agent picks the best
-- waiting contact it may serve, which goes to the best agent of its queue's strategy; else the best dirty
-- contact gets the best free agent(s). Find and claim happen in this one call.
-- The reply's last element: how many dirty agents are left to decide, else how many dirty contacts.
local function more()
  local n = redis.call('ZCARD', K('da'))
  if n > 0 then return n end
  return redis.call('ZCARD', K('dc'))
end
local top = redis.call('ZPOPMIN', K('da'))
if #top > 0 then
  match_agent(A(top[1]))
  return reply(nil, more())
end
top = redis.call('ZPOPMIN', K('dc'))
if #top > 0 then
  local c = C(cid_of(top[1]))
  if c then match_contact(c) end
  return reply(nil, more())
end
return false
