-- wrk script: full SerialDocumentReview lifecycles through the API, as an application runs
-- them: start a review on a document, read the workflow's open task, choose the
-- participants (start_review), read the next task, validate it. Five requests per review.
-- Usage:
--   wrk -t2 -c64 -d10s -s bench/lifecycle.lua URL -- "Basic dXNlcjAwMDE6YmVuY2g=" user0001
-- (the Authorization header value of the user who starts and reviews, and that user's
-- name, the review's participant). wrk does not say which connection an
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
  auth = args[1]
  user = args[2]
  queue = {}
  head = 1
  started = 0
  reviews = 0
  failures = 0
  -- node ids of the shipped SerialDocumentReview model
  choose_node = "Task38e"
  validate_node = "Task6d8"
end

local function push(method, path, body)
  queue[#queue + 1] = { method, path, body }
end

local function headers(with_body)
  local h = { ["Authorization"] = auth }
  if with_body then h["Content-Type"] = "application/json" end
  return h
end

function request()
  local step = queue[head]
  if step ~= nil then
    queue[head] = nil
    head = head + 1
    return wrk.format(step[1], step[2], headers(step[3] ~= nil), step[3])
  end
  started = started + 1
  local doc = string.format("bench-doc-%d-%d", index, started)
  local body = '{"entity-type":"workflow","workflowModelName":"SerialDocumentReview",'
    .. '"attachedDocumentIds":["' .. doc .. '"]}'
  return wrk.format("POST", "/api/v1/workflow", headers(true), body)
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
  if kind == "workflow" then
    push("GET", "/api/v1/task?workflowInstanceId=" .. field(body, "id"))
  elseif kind == "tasks" then
    local id, node = field(body, "id"), field(body, "nodeName")
    if id == nil then
      failures = failures + 1
    elseif node == choose_node then
      push("PUT", "/api/v1/task/" .. id .. "/start_review",
        '{"entity-type":"task","variables":{"participants":["' .. user .. '"]}}')
    elseif node == validate_node then
      push("PUT", "/api/v1/task/" .. id .. "/validate", '{"entity-type":"task","comment":"ok"}')
    end
  elseif kind == "task" then
    local node = field(body, "nodeName")
    if node == choose_node then
      push("GET", "/api/v1/task?workflowInstanceId=" .. field(body, "workflowInstanceId"))
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
