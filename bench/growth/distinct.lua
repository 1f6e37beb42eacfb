-- wrk request function: every request goes to a URL never used before
-- (thread id and a counter), with the method and path prefix given as
-- arguments: wrk ... -s distinct.lua URL -- POST /no-store/p [TENANT]
-- (TENANT, when given, is sent as X-Tenant, a keyed request field)
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local method, prefix, tenant
local n = 0

function init(args)
  method = args[1] or "GET"
  prefix = args[2] or "/no-store/g"
  tenant = args[3]
end

function request()
  n = n + 1
  local path = prefix .. "-" .. id .. "-" .. n
  local headers = {}
  if tenant then
    headers["X-Tenant"] = tenant .. "-" .. (n % 7)
  end
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", path, headers, "form=1")
  end
  return wrk.format(method, path, headers)
end
