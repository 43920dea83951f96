-- wrk script: completes distinct open tasks with the `cancel` button (SerialDocumentReview's
-- first task; the workflow then ends). Usage:
--   wrk -t2 -c64 -d5s -s bench/complete.lua URL -- tasks.tsv 2
-- (the last argument repeats the thread count: threads take every Nth task)
-- tasks.tsv lines are "task-id<TAB>Authorization header value" (fg-load task-ids).
-- Every request completes a task nobody completed before; once the file is used up the
-- thread sends harmless reads so that the totals stay honest (counted as non-2xx = 0).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  tasks = {}
  for line in io.lines(args[1]) do
    local id, auth = line:match("^(%S+)\t(.+)$")
    if id then tasks[#tasks + 1] = { id, auth } end
  end
  threads_total = tonumber(args[2]) or 1
  next_task = index + 1
  body = '{"entity-type":"task","comment":"bench"}'
  completed = 0
end

function request()
  local t = tasks[next_task]
  if t == nil then
    exhausted = true
    return wrk.format("GET", "/api/v1/workflowModel", { ["Authorization"] = tasks[1][2] })
  end
  next_task = next_task + threads_total
  completed = completed + 1
  return wrk.format("PUT", "/api/v1/task/" .. t[1] .. "/cancel",
    { ["Authorization"] = t[2], ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local n = 0
  for _, th in ipairs(threads) do n = n + (th:get("completed") or 0) end
  io.write(string.format("completions: %d\n", n))
  for _, th in ipairs(threads) do
    if th:get("exhausted") then io.write("warning: task list exhausted\n") break end
  end
end
