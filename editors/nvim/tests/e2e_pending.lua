-- A prompt that was already waiting when Neovim started, with ask = false:
-- the plugin only notifies, and :RackGatewayAnswer answers it through the
-- default secret input (inputsecret). Driven by internal/e2e/nvim_test.go
-- like tests/e2e.lua.
local sync = assert(os.getenv('RG_NVIM_SYNC'), 'RG_NVIM_SYNC is not set')

local function emit(tag, value)
  io.stdout:write(tag .. ' ' .. (tostring(value or ''):gsub('\n', ' | ')) .. '\n')
  io.stdout:flush()
end

local function wait_for(what, cond, ms)
  if not vim.wait(ms or 20000, cond, 20) then
    emit('FAIL', 'timed out waiting for ' .. what)
    vim.cmd('cquit 1')
  end
end

vim.cmd('runtime plugin/rack_gateway.lua')
local rg = require('rack_gateway')
local notes = {}
vim.notify = function(msg)
  notes[#notes + 1] = msg
end
local asked = {}
vim.ui.input = function()
  emit('FAIL', 'a secret went to vim.ui.input')
  vim.cmd('cquit 1')
end
vim.fn.inputsecret = function(label)
  asked[#asked + 1] = label
  emit('SECRET', label)
  local path = sync .. '/code'
  wait_for('the code', function()
    return vim.loop.fs_stat(path) ~= nil
  end, 30000)
  local f = assert(io.open(path))
  local v = vim.trim(f:read('*a'))
  f:close()
  return v
end

rg.setup({ ask = false })
wait_for('the pending prompt', function()
  return #notes > 0
end)
emit('NOTIFY', notes[1])
if #asked > 0 then
  emit('FAIL', 'asked with ask = false')
  vim.cmd('cquit 1')
end
vim.cmd('RackGatewayAnswer')
wait_for('an open window', function()
  return rg.statusline():match('^prod 🔓 %d+m$') ~= nil
end)
emit('UNLOCKED', rg.statusline())
rg.stop()
emit('DONE', #asked)
vim.cmd('qall!')
