-- ARGV[3] = agent id, ARGV[4] = contact id.
local aid, cid = ARGV[3], ARGV[4]
local a = A(aid)
if not a then return fail('unknown_agent') end
local c = C(cid)
if not c then return fail('unknown_contact') end
local mine = false
for _, x in ipairs(offered_list(c)) do if x == aid then mine = true end end
if c.status ~= 'offered' or not mine then return fail('not_offered') end
back(c, aid, 'rejected', nil)
return reply(c)
