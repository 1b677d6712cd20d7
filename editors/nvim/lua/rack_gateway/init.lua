-- rack-gateway for Neovim: a statusline component that shows the step-up
-- window of the current rack, kept live from the agent's event stream, and
-- answers for the questions commands wait on (a TOTP code, say) without
-- switching to their terminal. See :help rack-gateway and docs/local-api.md.
local uv = vim.loop
local transport = require('rack_gateway.transport')
local status = require('rack_gateway.status')
local paths = require('rack_gateway.paths')

local M = {}

-- Events that change nothing the plugin shows. Every other event, types
-- a newer agent adds included, makes it re-read /v1/status, which carries
-- the whole state. The stream is not filtered with ?types=: an agent that
-- does not know a type refuses the whole subscription.
M.ignored_events = { command_started = true }

local defaults = {
  socket = nil, -- the agent socket; nil finds it as the CLI does
  cli = 'rack-gateway', -- the CLI, for :RackGatewayStepUp
  rack = nil, -- the rack to show; nil: $RACK_GATEWAY_RACK, else the current one
  format = nil, -- a `rack-gateway prompt --format` string; nil: "prod 🔓 7m"
  ask = true, -- ask for a pending prompt's answer as soon as it appears
  notify = true, -- tell when a prompt is pending
  secret_input = 'inputsecret', -- or 'ui': vim.ui.input with opts.secret = true
  reconnect_min_ms = 250,
  reconnect_max_ms = 5000,
  refresh_ms = 60000, -- re-read /v1/status this often even without events
  timeout_ms = 5000, -- every request's deadline
}

M.config = vim.deepcopy(defaults)

local state = {
  configured = false, -- setup ran (statusline() runs it once by itself)
  started = false,
  connected = false,
  status = nil, -- the last GET /v1/status body
  read_at = 0, -- when it was read, in ms of uv.hrtime
  error = nil, -- why we are not connected
  ws = nil,
  backoff = nil,
  reconnect = nil, -- the reconnect timer
  tick = nil, -- the redraw timer
  fetching = false,
  again = false,
  seen = {}, -- prompt ids already notified
  queue = {}, -- prompts waiting to be asked, oldest first
  asking = false,
  last = nil, -- the last rendered statusline
  connects = 0, -- successful connections, for :RackGatewayStatus and tests
}
M._state = state

local function now_ms()
  return uv.hrtime() / 1e6
end

local function notify(msg, level)
  vim.notify('rack-gateway: ' .. msg, level or vim.log.levels.INFO)
end

function M.socket()
  return M.config.socket or paths.socket()
end

-- changed redraws the statuslines and fires User RackGatewayChanged (for
-- statusline plugins that cache), only when the segment changed.
local function changed(force)
  local s = M.statusline()
  if not force and s == state.last then
    return
  end
  state.last = s
  vim.cmd('redrawstatus!')
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'RackGatewayChanged', modeline = false })
end

local function pending(id)
  for _, p in ipairs(state.status and state.status.prompts or {}) do
    if p.id == id then
      return p
    end
  end
  return nil
end

-- answer sends value for prompt p: POST /v1/prompts/{id}.
function M.answer(p, value, cb)
  transport.request(M.socket(), {
    method = 'POST',
    path = '/v1/prompts/' .. p.id,
    body = { value = value },
    timeout_ms = M.config.timeout_ms,
  }, vim.schedule_wrap(function(err, code, body)
    local ok = not err and code == 200
    if err then
      notify('could not answer: ' .. err, vim.log.levels.ERROR)
    elseif code == 404 then
      notify(('%s: the prompt was already answered or withdrawn'):format(p.rack or 'rack-gateway'), vim.log.levels.WARN)
    elseif code ~= 200 then
      local msg = type(body) == 'table' and type(body.error) == 'table' and body.error.message or tostring(body)
      notify(('could not answer (HTTP %d): %s'):format(code, msg), vim.log.levels.ERROR)
    end
    if cb then
      cb(ok, err or code)
    end
  end))
end

-- ask reads an answer for p and sends it; a secret is read without echo.
-- cb(sent) runs when done, sent false when the user cancelled.
function M.ask(p, cb)
  local label = ('[%s] %s '):format(p.rack or 'rack-gateway', vim.trim(p.text or 'Answer:'))
  local function got(value)
    if value == nil or value == '' then
      return cb and cb(false)
    end
    M.answer(p, value, function(ok)
      if cb then
        cb(ok)
      end
    end)
  end
  if p.secret and M.config.secret_input ~= 'ui' then
    -- inputsecret blocks and is never handed to a UI plugin, so a code
    -- is never shown by one that ignores a secret option.
    local ok, value = pcall(vim.fn.inputsecret, label)
    vim.cmd('redraw')
    got(ok and value or nil)
  else
    vim.ui.input({ prompt = label, secret = p.secret or nil }, got)
  end
end

-- drain asks the queued prompts one at a time, skipping any that were
-- answered elsewhere meanwhile.
local function drain()
  if state.asking then
    return
  end
  while #state.queue > 0 do
    local id = table.remove(state.queue, 1)
    local p = pending(id)
    if p then
      state.asking = true
      M.ask(p, function()
        state.asking = false
        vim.schedule(drain)
      end)
      return
    end
  end
end

local function on_prompts()
  local live = {}
  for _, p in ipairs(state.status.prompts or {}) do
    live[p.id] = true
    if not state.seen[p.id] then
      state.seen[p.id] = true
      if M.config.notify then
        notify(status.describe(p), vim.log.levels.WARN)
      end
      if M.config.ask then
        state.queue[#state.queue + 1] = p.id
      end
    end
  end
  for id in pairs(state.seen) do
    if not live[id] then
      state.seen[id] = nil
    end
  end
  drain()
end

-- refresh re-reads /v1/status; calls that arrive while one is in flight
-- are folded into one more read after it, so the last state always wins.
function M.refresh()
  if state.fetching then
    state.again = true
    return
  end
  state.fetching = true
  transport.request(M.socket(), { path = '/v1/status', timeout_ms = M.config.timeout_ms }, vim.schedule_wrap(function(err, code, body)
    state.fetching = false
    if not state.started then
      return
    end
    if not err and code == 200 and type(body) == 'table' then
      state.status, state.read_at = body, now_ms()
      on_prompts()
    elseif not err then
      state.error = ('GET /v1/status: HTTP %s'):format(tostring(code))
    end
    changed()
    if state.again then
      state.again = false
      M.refresh()
    end
  end))
end

local connect

local function schedule_reconnect()
  if not state.started then
    return
  end
  local wait = state.backoff or M.config.reconnect_min_ms
  state.backoff = math.min(wait * 2, M.config.reconnect_max_ms)
  state.reconnect:start(wait, 0, vim.schedule_wrap(function()
    connect()
  end))
end

-- connect subscribes to /v1/events first and reads /v1/status once the
-- stream is open, so no change between the two is missed.
connect = function()
  if not state.started or state.ws then
    return
  end
  local target = '/v1/events'
  local ws
  -- A stream closed by stop() or setup() reports after a new one may
  -- have started: only the current stream's reports count.
  local function current()
    return state.ws ~= nil and state.ws == ws
  end
  ws = transport.websocket(M.socket(), target, {
    on_open = vim.schedule_wrap(function()
      if not current() then
        return
      end
      state.connected, state.error, state.backoff = true, nil, nil
      state.connects = state.connects + 1
      M.refresh()
    end),
    on_message = vim.schedule_wrap(function(text)
      if not current() then
        return
      end
      local ok, ev = pcall(vim.json.decode, text)
      if not (ok and type(ev) == 'table' and M.ignored_events[ev.type]) then
        M.refresh()
      end
    end),
    on_close = vim.schedule_wrap(function(reason)
      if not current() then
        return
      end
      state.ws = nil
      state.connected, state.status, state.error = false, nil, reason
      state.queue = {}
      changed()
      schedule_reconnect()
    end),
  })
  -- websocket reports asynchronously, so ws is set before any report.
  state.ws = ws
end

-- setup configures the plugin and connects to the agent. Calling it again
-- applies new options and reconnects.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if state.started then
    M.stop()
  end
  state.started, state.configured = true, true
  state.reconnect = uv.new_timer()
  -- The countdown moves with the clock, not with events: redraw each
  -- second (only when the text changed), and re-read the status now and
  -- then in case the agent's clock and ours disagree about an edge.
  state.tick = uv.new_timer()
  local since = now_ms()
  state.tick:start(1000, 1000, vim.schedule_wrap(function()
    if not state.started then
      return
    end
    changed()
    if state.connected and now_ms() - since >= M.config.refresh_ms then
      since = now_ms()
      M.refresh()
    end
  end))
  connect()
end

-- stop disconnects and stops the timers.
function M.stop()
  state.started = false
  for _, k in ipairs({ 'reconnect', 'tick' }) do
    local t = state[k]
    if t and not t:is_closing() then
      t:stop()
      t:close()
    end
    state[k] = nil
  end
  if state.ws then
    state.ws.close()
  end
  state.ws, state.connected, state.status, state.backoff = nil, false, nil, nil
  state.queue, state.seen, state.asking = {}, {}, false
end

-- statusline returns the segment for the rack to show ("prod 🔓 7m",
-- "prod 🔒"), or "" while the agent is not reachable or nobody is logged
-- in. It never blocks: it renders what the event stream last told.
function M.statusline()
  if not state.configured then
    M.setup(M.config)
  end
  if not state.status then
    return ''
  end
  local name = M.config.rack or os.getenv('RACK_GATEWAY_RACK')
  local rack = status.pick(state.status, name, paths.config_dir())
  return status.render(rack, (now_ms() - state.read_at) / 1000, M.config.format)
end

-- prompts returns the pending prompts the agent last reported.
function M.prompts()
  return state.status and state.status.prompts or {}
end

-- ensure connects when nothing has yet, and gives the first status read
-- up to wait_ms to arrive, for commands run before any statusline draw.
local function ensure(wait_ms)
  if not state.configured then
    M.setup(M.config)
  end
  vim.wait(wait_ms or 1000, function()
    return state.status ~= nil
  end, 20)
end

-- answer_pending asks for every pending prompt (a choice first when there
-- are several): :RackGatewayAnswer.
function M.answer_pending()
  ensure()
  local ps = M.prompts()
  if #ps == 0 then
    return notify(state.connected and 'no command is waiting for an answer' or ('not connected to the agent: ' .. tostring(state.error)))
  end
  if #ps == 1 then
    return M.ask(ps[1])
  end
  vim.ui.select(ps, { prompt = 'Answer which prompt?', format_item = status.describe }, function(p)
    if p then
      M.ask(p)
    end
  end)
end

-- info describes the agent and its racks: :RackGatewayStatus.
function M.info()
  ensure()
  if not state.connected or not state.status then
    return ('not connected to the agent: %s\nThe next rack-gateway command starts it.'):format(tostring(state.error or 'connecting'))
  end
  local s = state.status
  local lines = { ('agent %s (pid %s) at %s, secrets in %s'):format(s.version, s.pid, s.socket, s.secret_store) }
  local elapsed = (now_ms() - state.read_at) / 1000
  for _, r in ipairs(s.racks or {}) do
    local who = r.logged_in and (r.email or 'logged in') or 'not logged in'
    lines[#lines + 1] = ('%s %s  %s  %s%s'):format(r.current and '*' or ' ', status.render(r, elapsed), r.url or '', who,
      r.role and r.role ~= '' and (' (' .. r.role .. ')') or '')
  end
  for _, p in ipairs(s.prompts or {}) do
    lines[#lines + 1] = 'waiting: ' .. status.describe(p)
  end
  return table.concat(lines, '\n')
end

-- step_up opens a terminal running `rack-gateway mfa renew`, which opens a
-- new step-up window: :RackGatewayStepUp.
function M.step_up()
  vim.cmd('botright 12split')
  vim.fn.termopen({ M.config.cli, 'mfa', 'renew' })
  vim.cmd('startinsert')
end

return M
