-- Talks to the agent over its Unix socket (a named pipe on Windows) with
-- libuv pipes: one HTTP/1.1 request per connection, and a minimal
-- websocket client for GET /v1/events. Nothing here touches the editor, so
-- every callback runs in libuv's fast context: callers schedule their work.
-- The wire format is the agent's local API, docs/local-api.md.
local uv = vim.loop
local bit = require('bit')

local M = {}

-- The largest response or websocket message we accept; the agent's answers
-- are a few KiB, so anything this big is not the agent.
M.max_body = 4 * 1024 * 1024

local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

-- base64 encodes s (for Sec-WebSocket-Key; Neovim 0.7 has no vim.base64).
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local idx = {
      bit.band(bit.rshift(n, 18), 63),
      bit.band(bit.rshift(n, 12), 63),
      bit.band(bit.rshift(n, 6), 63),
      bit.band(n, 63),
    }
    for j = 1, 4 do
      if (j == 3 and b == nil) or (j == 4 and c == nil) then
        out[#out + 1] = '='
      else
        out[#out + 1] = b64chars:sub(idx[j] + 1, idx[j] + 1)
      end
    end
  end
  return table.concat(out)
end

local seeded = false
local function random_bytes(n)
  if not seeded then
    math.randomseed(tonumber(uv.hrtime() % 2147483647))
    seeded = true
  end
  local t = {}
  for i = 1, n do
    t[i] = string.char(math.random(0, 255))
  end
  return table.concat(t)
end

-- Splits an HTTP response head into its status code and lower-cased headers.
function M.parse_head(head)
  local lines = vim.split(head, '\r\n', { plain = true })
  local code = tonumber((lines[1] or ''):match('^HTTP/%d%.%d (%d%d%d)'))
  local headers = {}
  for i = 2, #lines do
    local k, v = lines[i]:match('^([^:]+):%s*(.-)%s*$')
    if k then
      headers[k:lower()] = v
    end
  end
  return code, headers
end

-- Decodes a chunked body; returns nil when it is cut short.
function M.dechunk(s)
  local out, pos = {}, 1
  while true do
    local e = s:find('\r\n', pos, true)
    if not e then
      return nil
    end
    local size = tonumber(s:sub(pos, e - 1):match('^%x+'), 16)
    if not size then
      return nil
    end
    if size == 0 then
      return table.concat(out)
    end
    local data = s:sub(e + 2, e + 1 + size)
    if #data < size then
      return nil
    end
    out[#out + 1] = data
    pos = e + 2 + size + 2
  end
end

-- dial_error says what a failed connect means for the user.
local function dial_error(path, err)
  err = tostring(err)
  if err:match('^ENOENT') or err:match('^ECONNREFUSED') then
    return ('no agent is listening on %s (%s)'):format(path, err)
  end
  return ('cannot reach the agent on %s: %s'):format(path, err)
end

-- Opens a pipe to path; cb(err, pipe) runs once.
local function dial(path, cb)
  local pipe = uv.new_pipe(false)
  local ok, ret, err = pcall(pipe.connect, pipe, path, function(cerr)
    if cerr then
      if not pipe:is_closing() then
        pipe:close()
      end
      cb(dial_error(path, cerr))
    else
      cb(nil, pipe)
    end
  end)
  -- A connect refused before it started (a bad path) throws or returns
  -- nil and an error instead of calling back.
  if not ok or ret == nil then
    if not pipe:is_closing() then
      pipe:close()
    end
    cb(dial_error(path, ok and err or ret))
  end
end

-- request sends one HTTP request to the agent and calls
-- cb(err, code, body, headers) once, body decoded from JSON when it is.
-- Every request has a deadline (opts.timeout_ms, 5 s by default), so a
-- stuck agent never leaves a caller waiting.
function M.request(socket, opts, cb)
  local done = false
  local pipe
  local timer = uv.new_timer()
  local function finish(err, code, body, headers)
    if done then
      return
    end
    done = true
    timer:stop()
    timer:close()
    if pipe and not pipe:is_closing() then
      pipe:close()
    end
    cb(err, code, body, headers)
  end
  timer:start(opts.timeout_ms or 5000, 0, function()
    finish('the agent did not answer ' .. opts.path .. ' in time')
  end)
  dial(socket, function(err, p)
    if err then
      return finish(err)
    end
    if done then
      return p:close()
    end
    pipe = p
    local body = opts.body and vim.json.encode(opts.body) or nil
    local req = {
      (opts.method or 'GET') .. ' ' .. opts.path .. ' HTTP/1.1',
      'Host: agent',
      'Connection: close',
      'Accept: application/json',
    }
    if body then
      req[#req + 1] = 'Content-Type: application/json'
      req[#req + 1] = 'Content-Length: ' .. #body
    end
    p:write(table.concat(req, '\r\n') .. '\r\n\r\n' .. (body or ''))
    local chunks, size = {}, 0
    p:read_start(function(rerr, data)
      if rerr then
        return finish(rerr)
      end
      if data then
        chunks[#chunks + 1] = data
        size = size + #data
        if size > M.max_body then
          finish('the answer to ' .. opts.path .. ' is too big')
        end
        return
      end
      -- EOF: Connection: close makes the end of the stream the end of
      -- the answer.
      local raw = table.concat(chunks)
      local hend = raw:find('\r\n\r\n', 1, true)
      if not hend then
        return finish('the agent closed the connection without an answer')
      end
      local code, headers = M.parse_head(raw:sub(1, hend - 1))
      local text = raw:sub(hend + 4)
      if (headers['transfer-encoding'] or ''):lower():find('chunked') then
        text = M.dechunk(text)
        if not text then
          return finish('the answer to ' .. opts.path .. ' was cut short')
        end
      elseif headers['content-length'] then
        text = text:sub(1, tonumber(headers['content-length']))
      end
      local decoded = text
      if (headers['content-type'] or ''):find('json') then
        local ok, v = pcall(vim.json.decode, text)
        if ok then
          decoded = v
        end
      end
      finish(nil, code, decoded, headers)
    end)
  end)
end

-- frame encodes one client websocket frame; clients must mask (RFC 6455 5.3).
function M.frame(opcode, payload)
  local len = #payload
  local head
  if len < 126 then
    head = string.char(0x80 + opcode, 0x80 + len)
  elseif len < 65536 then
    head = string.char(0x80 + opcode, 0x80 + 126, bit.rshift(len, 8), bit.band(len, 255))
  else
    error('frame too big')
  end
  local mask = random_bytes(4)
  local m = { mask:byte(1, 4) }
  local out = {}
  for i = 1, len do
    out[i] = string.char(bit.bxor(payload:byte(i), m[(i - 1) % 4 + 1]))
  end
  return head .. mask .. table.concat(out)
end

-- parse_frame reads one frame from the start of buf. It returns
-- fin, opcode, payload, rest; or nil when buf holds no whole frame yet;
-- or false, message for a frame we refuse.
function M.parse_frame(buf)
  if #buf < 2 then
    return nil
  end
  local b0, b1 = buf:byte(1, 2)
  local fin = bit.band(b0, 0x80) ~= 0
  local opcode = bit.band(b0, 0x0f)
  local masked = bit.band(b1, 0x80) ~= 0
  local len = bit.band(b1, 0x7f)
  local pos = 3
  if len == 126 then
    if #buf < 4 then
      return nil
    end
    len = buf:byte(3) * 256 + buf:byte(4)
    pos = 5
  elseif len == 127 then
    if #buf < 10 then
      return nil
    end
    len = 0
    for i = 3, 10 do
      len = len * 256 + buf:byte(i)
    end
    pos = 11
  end
  if len > M.max_body then
    return false, 'a message over ' .. M.max_body .. ' bytes'
  end
  local mask
  if masked then
    if #buf < pos + 3 then
      return nil
    end
    mask = { buf:byte(pos, pos + 3) }
    pos = pos + 4
  end
  if #buf < pos + len - 1 then
    return nil
  end
  local payload = buf:sub(pos, pos + len - 1)
  if mask then
    local out = {}
    for i = 1, len do
      out[i] = string.char(bit.bxor(payload:byte(i), mask[(i - 1) % 4 + 1]))
    end
    payload = table.concat(out)
  end
  return fin, opcode, payload, buf:sub(pos + len)
end

-- websocket opens target (a path with its query) on the agent socket.
-- handlers: on_open(headers), on_message(text), on_close(reason): on_close
-- runs exactly once, whether the dial, the handshake or the stream failed,
-- or close() was called. Returns an object with close().
function M.websocket(socket, target, handlers)
  local ws = { closed = false }
  local pipe
  local handshake = uv.new_timer()
  local function shut(reason)
    if ws.closed then
      return
    end
    ws.closed = true
    if not handshake:is_closing() then
      handshake:stop()
      handshake:close()
    end
    if pipe and not pipe:is_closing() then
      pipe:close()
    end
    handlers.on_close(reason)
  end
  function ws.close()
    if pipe and not ws.closed and ws.open then
      pcall(pipe.write, pipe, M.frame(8, string.char(3, 232))) -- 1000, normal
    end
    shut('closed')
  end
  handshake:start(5000, 0, function()
    shut('the agent did not answer the websocket handshake in time')
  end)
  dial(socket, function(err, p)
    if err then
      return shut(err)
    end
    if ws.closed then
      return p:close()
    end
    pipe = p
    p:write(table.concat({
      'GET ' .. target .. ' HTTP/1.1',
      'Host: agent',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: ' .. M.base64(random_bytes(16)),
      'Sec-WebSocket-Version: 13',
    }, '\r\n') .. '\r\n\r\n')
    local buf = ''
    local parts = {} -- a fragmented message so far
    p:read_start(function(rerr, data)
      if ws.closed then
        return
      end
      if rerr then
        return shut(rerr)
      end
      if not data then
        return shut(ws.open and 'the agent closed the connection' or 'the agent closed the connection during the handshake')
      end
      buf = buf .. data
      if not ws.open then
        local hend = buf:find('\r\n\r\n', 1, true)
        if not hend then
          if #buf > 65536 then
            shut('the handshake answer is too big')
          end
          return
        end
        local code, headers = M.parse_head(buf:sub(1, hend - 1))
        if code ~= 101 then
          local body = buf:sub(hend + 4)
          local ok, v = pcall(vim.json.decode, body)
          local msg = ok and type(v) == 'table' and type(v.error) == 'table' and v.error.message or body
          return shut(('HTTP %s: %s'):format(tostring(code), msg))
        end
        ws.open = true
        handshake:stop()
        handshake:close()
        buf = buf:sub(hend + 4)
        handlers.on_open(headers)
      end
      while not ws.closed do
        local fin, opcode, payload, rest = M.parse_frame(buf)
        if fin == nil then
          break
        elseif fin == false then
          return shut(opcode)
        end
        buf = rest
        if opcode == 9 then -- ping: answer with the same payload
          p:write(M.frame(10, payload))
        elseif opcode == 8 then
          local code = #payload >= 2 and payload:byte(1) * 256 + payload:byte(2) or 1005
          pcall(p.write, p, M.frame(8, payload:sub(1, 2)))
          return shut(('the agent closed the stream (%d%s)'):format(code, #payload > 2 and ': ' .. payload:sub(3) or ''))
        elseif opcode == 1 or opcode == 2 or opcode == 0 then
          parts[#parts + 1] = payload
          if fin then
            local msg = table.concat(parts)
            parts = {}
            handlers.on_message(msg)
          end
        end
      end
    end)
  end)
  return ws
end

return M
