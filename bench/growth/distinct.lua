-- wrk request function: every request goes to a URL never used before
-- (thread id and a counter), with the method and path prefix given as
-- arguments: wrk ... -s distinct.lua URL -- POST /no-store/p
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local method, prefix
local n = 0

function init(args)
  method = args[1] or "GET"
  prefix = args[2] or "/no-store/g"
end

function request()
  n = n + 1
  local path = prefix .. "-" .. id .. "-" .. n
  if method == "POST" then
    return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, "form=1")
  end
  return wrk.format(method, path)
end
