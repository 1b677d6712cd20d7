-- The plugin against a real agent, driven by internal/e2e/nvim_test.go.
-- It talks to the Go test through lines on stdout ("TAG value") and
-- files the test writes into $RG_NVIM_SYNC; every wait has a deadline,
-- and a failure prints "FAIL why" and exits 1.
local sync = assert(os.getenv('RG_NVIM_SYNC'), 'RG_NVIM_SYNC is not set')

local function emit(tag, value)
  io.stdout:write(tag .. ' ' .. (tostring(value or ''):gsub('\n', ' | ')) .. '\n')
  io.stdout:flush()
end

local function fail(why)
  emit('FAIL', why)
  vim.cmd('cquit 1')
end

local function wait_for(what, cond, ms)
  if not vim.wait(ms or 20000, cond, 20) then
    fail('timed out waiting for ' .. what)
  end
end

-- await returns the content of the file the test writes when it has done
-- its part.
local function await(name, ms)
  local path = sync .. '/' .. name
  wait_for('the test to write ' .. name, function()
    return vim.loop.fs_stat(path) ~= nil
  end, ms or 30000)
  local f = assert(io.open(path))
  local v = f:read('*a')
  f:close()
  return v
end

vim.cmd('runtime plugin/rack_gateway.lua')
local rg = require('rack_gateway')

local notes = {}
vim.notify = function(msg)
  notes[#notes + 1] = msg
end

-- The prompt is answered as a user would in a UI that masks secrets:
-- vim.ui.input, here returning the code the test hands over.
local asked = 0
vim.ui.input = function(opts, on_confirm)
  asked = asked + 1
  -- The agent learned the window is closed before it asked.
  emit('LOCKED', rg.statusline())
  emit('INPUT', ('secret=%s prompt=%s'):format(tostring(opts.secret), opts.prompt))
  on_confirm(vim.trim(await('code')))
end

-- No socket given: the plugin finds it as the CLI does.
rg.setup({ cli = os.getenv('RG_CLI'), secret_input = 'ui' })
wait_for('the event stream', function()
  return rg._state.connected and rg._state.status ~= nil
end)
emit('CONNECTED', rg.statusline())

wait_for('an open window', function()
  return asked > 0 and rg.statusline():match('^prod 🔓 %d+m$') ~= nil
end, 60000)
emit('UNLOCKED', rg.statusline())
for _, n in ipairs(notes) do
  emit('NOTIFY', n)
end
local pid = rg._state.status.pid
emit('PID', pid)

-- The agent goes away and comes back: the segment empties, then the
-- plugin reconnects to the new agent by itself.
await('stopped')
wait_for('the disconnect', function()
  return not rg._state.connected
end)
emit('DOWN', rg.statusline())
notes = {}
vim.cmd('RackGatewayStatus')
emit('DOWNINFO', notes[1])
await('restarted')
wait_for('the new agent', function()
  return rg._state.connected and rg._state.status ~= nil and rg._state.status.pid ~= pid
end)
emit('BACK', rg.statusline() .. ' pid=' .. rg._state.status.pid)

notes = {}
vim.cmd('RackGatewayStatus')
emit('INFO', notes[1])

rg.stop()
emit('DONE', asked)
vim.cmd('qall!')
