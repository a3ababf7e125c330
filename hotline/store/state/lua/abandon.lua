-- ARGV[3] = contact id: the customer left while waiting or offered.
local c = C(ARGV[3])
if not c then return fail('unknown_contact') end
if c.status == 'waiting' or c.status == 'offered' then
  if c.status == 'waiting' then unplace(c) end
  withdraw_all(c, nil)
  dequeue(c)
  retire(c, 'abandoned')
  ev('abandoned', c, nil, {waited_s = NOW - tonumber(c.enqueued_at)})
end
return reply(c)
