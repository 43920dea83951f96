-- wrk script: full SerialDocumentReview lifecycles through the API, as an application runs
-- them: start a review on a document, read the workflow's open task, choose the
-- participants (start_review), read the next task, validate it. Five requests per review.
-- Usage:
--   wrk -t2 -c64 -d10s -s bench/lifecycle.lua URL -- "Basic dXNlcjAwMDE6YmVuY2g=" user0001
-- (the Authorization header value of the user who starts and reviews, and that user's
-- name, the review's participant). More pairs (AUTH2 USER2 AUTH3 USER3 ...) spread the
-- reviews over those users in turn: each review is started, chosen and validated by
-- one of them, who is also its participant. wrk does not say which connection an
-- answer belongs to, so each thread keeps one queue of next steps: an answer names its
-- workflow or task, which is enough to know the step that follows it. A request that is
-- not the next step of a running review starts a new one.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  -- users[i] = { name, Authorization value }; auth_of[name] = Authorization value
  users, auth_of = {}, {}
  for i = 1, #args - 1, 2 do
    users[#users + 1] = { args[i + 1], args[i] }
    auth_of[args[i + 1]] = args[i]
  end
  -- queue[head .. tail - 1] are the next steps; explicit ends, because the length
  -- operator is unreliable on a table whose first entries were removed
  queue = {}
  head = 1
  tail = 1
  started = 0
  reviews = 0
  failures = 0
  -- node ids of the shipped SerialDocumentReview model
  choose_node = "Task38e"
  validate_node = "Task6d8"
end

local function push(auth, method, path, body)
  queue[tail] = { auth, method, path, body }
  tail = tail + 1
end

local function headers(auth, with_body)
  local h = { ["Authorization"] = auth }
  if with_body then h["Content-Type"] = "application/json" end
  return h
end

function request()
  local step = queue[head]
  if step ~= nil then
    queue[head] = nil
    head = head + 1
    return wrk.format(step[2], step[3], headers(step[1], step[4] ~= nil), step[4])
  end
  started = started + 1
  local by = users[(index + started) % #users + 1]
  local doc = string.format("bench-doc-%d-%d", index, started)
  local body = '{"entity-type":"workflow","workflowModelName":"SerialDocumentReview",'
    .. '"attachedDocumentIds":["' .. doc .. '"]}'
  return wrk.format("POST", "/api/v1/workflow", headers(by[2], true), body)
end

local function field(body, name)
  return body:match('"' .. name .. '":"([^"]+)"')
end

function response(status, _, body)
  if status < 200 or status > 299 then
    failures = failures + 1
    return
  end
  local kind = field(body, "entity%-type")
  -- the review's user: its initiator, who is also its participant
  local user = field(body, "initiator") or field(body, "workflowInitiator")
  local auth = user and auth_of[user]
  if auth == nil then
    failures = failures + 1
    return
  end
  if kind == "workflow" then
    push(auth, "GET", "/api/v1/task?workflowInstanceId=" .. field(body, "id"))
  elseif kind == "tasks" then
    local id, node = field(body, "id"), field(body, "nodeName")
    if id == nil then
      failures = failures + 1
    elseif node == choose_node then
      push(auth, "PUT", "/api/v1/task/" .. id .. "/start_review",
        '{"entity-type":"task","variables":{"participants":["' .. user .. '"]}}')
    elseif node == validate_node then
      push(auth, "PUT", "/api/v1/task/" .. id .. "/validate", '{"entity-type":"task","comment":"ok"}')
    end
  elseif kind == "task" then
    local node = field(body, "nodeName")
    if node == choose_node then
      push(auth, "GET", "/api/v1/task?workflowInstanceId=" .. field(body, "workflowInstanceId"))
    elseif node == validate_node then
      reviews = reviews + 1
    end
  end
end

function done(summary, latency, requests)
  local n, f = 0, 0
  for _, th in ipairs(threads) do
    n = n + (th:get("reviews") or 0)
    f = f + (th:get("failures") or 0)
  end
  io.write(string.format("reviews: %d\nfailures: %d\n", n, f))
end
