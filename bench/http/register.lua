-- wrk script: each request registers a delegation at the counter
-- (POST /v1/counter/delegations, operator token) between two citizens seen
-- for the first time, so that no rule refuses it (D1: one delegate per
-- grantor; D2: three per delegate). Fiscal codes are made here, check
-- character included (Agenzia delle Entrate's odd/even tables), unique per
-- wrk thread and request. Used by bench/http.sh; the token comes in the
-- environment (DELEGHE_BENCH_TOKEN), the run's prefix in DELEGHE_BENCH_RUN,
-- and the evidence every registration names (D11: an AA08 and an identity
-- document the operator uploaded) in DELEGHE_BENCH_DOCUMENTS, a JSON list.

local ODD = { [0] = 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23 }

local function value(c)
  local b = string.byte(c)
  if b >= 48 and b <= 57 then return b - 48 end -- digit: 0..9
  return b - 65                                  -- letter: A=0 .. Z=25
end

local function check_character(body)
  local sum = 0
  for i = 1, 15 do
    local v = value(body:sub(i, i))
    if i % 2 == 1 then sum = sum + ODD[v] else sum = sum + v end
  end
  return string.char(65 + sum % 26)
end

-- The n-th code: six letters spell n in base 26, the year its thread.
local function code(n, year)
  local letters = {}
  for i = 6, 1, -1 do
    letters[i] = string.char(65 + n % 26)
    n = math.floor(n / 26)
  end
  local body = table.concat(letters) .. string.format("%02d", year) .. "A01H501"
  return body .. check_character(body)
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("DELEGHE_BENCH_TOKEN")
  run = tonumber(os.getenv("DELEGHE_BENCH_RUN") or "0")
  documents = os.getenv("DELEGHE_BENCH_DOCUMENTS") or "[]"
  n = 0
  year = 10 + id * 2 + run * 20
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  n = n + 1
  local body = string.format('{"grantor":"%s","delegate":"%s","documents":%s}',
    code(n, year), code(n, year + 1), documents)
  return wrk.format(nil, nil, nil, body)
end

-- Refusals would measure the wrong thing: count them for the report.
function response(status, headers, body)
  if status ~= 201 then
    failed = (failed or 0) + 1
    if failed == 1 then io.stderr:write("first refusal: " .. status .. " " .. body .. "\n") end
  end
end
