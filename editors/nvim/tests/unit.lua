-- Unit tests of the plugin's pure parts, run headless with no agent:
--   nvim --headless -u NONE -i NONE --cmd 'set rtp^=editors/nvim' -c 'luafile editors/nvim/tests/unit.lua'
-- Prints "ok <n>" and exits 0, or prints every failure and exits 1.
local failures, checks = {}, 0

local function eq(what, got, want)
  checks = checks + 1
  if not vim.deep_equal(got, want) then
    failures[#failures + 1] = ('%s: got %s, want %s'):format(what, vim.inspect(got), vim.inspect(want))
  end
end

local t = require('rack_gateway.transport')
local s = require('rack_gateway.status')
local paths = require('rack_gateway.paths')

-- base64, against RFC 4648's test vectors.
for plain, enc in pairs({ [''] = '', f = 'Zg==', fo = 'Zm8=', foo = 'Zm9v', foob = 'Zm9vYg==', fooba = 'Zm9vYmE=', foobar = 'Zm9vYmFy' }) do
  eq('base64 ' .. plain, t.base64(plain), enc)
end

-- HTTP heads and chunked bodies.
local code, h = t.parse_head('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nRack-Gateway-Capability:  2 ')
eq('status code', code, 404)
eq('header', h['content-type'], 'application/json')
eq('header trimmed', h['rack-gateway-capability'], '2')
eq('dechunk', t.dechunk('4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n'), 'Wikipedia in \r\n\r\nchunks.')
eq('dechunk cut', t.dechunk('4\r\nWi'), nil)

-- Websocket frames: a client frame is masked and decodes back; server
-- frames of each length form parse; a partial frame waits for more.
for _, n in ipairs({ 0, 5, 125, 126, 300, 65535 }) do
  local payload = string.rep('x', n)
  local f = t.frame(1, payload)
  local fin, op, got, rest = t.parse_frame(f .. 'tail')
  eq('masked frame ' .. n, { fin, op, got, rest }, { true, 1, payload, 'tail' })
  eq('partial frame ' .. n, t.parse_frame(f:sub(1, #f - 1)), nil)
end
local big = string.rep('y', 70000)
local head = string.char(0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70)
eq('64-bit length', { t.parse_frame(head .. big) }, { true, 1, big, '' })
eq('16-bit length', { t.parse_frame(string.char(0x01, 126, 0, 200) .. string.rep('z', 200)) }, { false, 1, string.rep('z', 200), '' })
local ok, msg = t.parse_frame(string.char(0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0))
eq('oversized frame refused', { ok, type(msg) }, { false, 'string' })

-- The statusline segment, as `rack-gateway prompt` renders it.
eq('countdown minutes', s.countdown(450), '7m')
eq('countdown hours as minutes', s.countdown(7230), '120m')
eq('countdown seconds', s.countdown(45), '45s')
eq('countdown closed', s.countdown(0), '')
local open = { name = 'prod', logged_in = true, current = true, email = 'a@x', window = { active = true, remaining_s = 451 } }
local closed = { name = 'staging', logged_in = true, window = { active = false, remaining_s = 0 } }
eq('render open', s.render(open, 0), 'prod 🔓 7m')
eq('render open later', s.render(open, 400.5), 'prod 🔓 51s')
eq('render ran out', s.render(open, 451), 'prod 🔒')
eq('render closed', s.render(closed, 0), 'staging 🔒')
eq('render none', s.render(nil, 0), '')
eq('render format', s.render(open, 1, '[%r|%t|%s|%e|%i|%%]'), '[prod|7m|450|a@x|🔓|%]')

-- Which rack: named, else current, else first; this config dir first.
local st = { racks = {
  { name = 'a', logged_in = true, config_dir = '/c1' },
  { name = 'b', logged_in = true, current = true, config_dir = '/c1' },
  { name = 'c', logged_in = true, current = true, config_dir = '/c2' },
  { name = 'out', logged_in = false, current = true, config_dir = '/c3' },
} }
eq('pick current', s.pick(st, nil, '/c1').name, 'b')
eq('pick other dir', s.pick(st, nil, '/c2').name, 'c')
eq('pick named', s.pick(st, 'a', '/c1').name, 'a')
eq('pick named missing', s.pick(st, 'c', '/c1'), nil)
eq('pick unknown dir: all racks', s.pick(st, nil, '/nowhere').name, 'b')
eq('pick logged out only', s.pick({ racks = { st.racks[4] } }, nil, '/c3'), nil)
eq('pick no status', s.pick(nil), nil)

-- Notifications name rack, command and terminal.
eq('describe tty', s.describe({ rack = 'prod', command = 'rack-gateway api', tty = '/dev/pts/3', text = 'Enter TOTP code: ' }),
  'prod: `rack-gateway api` in /dev/pts/3 is waiting: Enter TOTP code:')
eq('describe tty and pid', s.describe({ rack = 'prod', command = 'rack-gateway api', tty = '/dev/pts/3', pid = 42, text = 'Code:' }),
  'prod: `rack-gateway api` in /dev/pts/3 (pid 42) is waiting: Code:')
eq('describe pid', s.describe({ rack = 'prod', command = 'rack-gateway api', pid = 42, text = 'Code:' }),
  'prod: `rack-gateway api` in the terminal of pid 42 is waiting: Code:')

-- The default socket, found as the CLI finds it.
local function env(t2)
  return function(k)
    return t2[k]
  end
end
eq('socket xdg', paths.socket(env({ XDG_RUNTIME_DIR = '/run/user/1000/' }), 'Linux', 1000), '/run/user/1000/rack-gateway/agent.sock')
eq('socket relative xdg ignored', paths.socket(env({ XDG_RUNTIME_DIR = 'run', TMPDIR = '/var/tmp' }), 'Linux', 7), '/var/tmp/rack-gateway-7/agent.sock')
eq('socket no tmpdir', paths.socket(env({}), 'Linux', 7), '/tmp/rack-gateway-7/agent.sock')
eq('socket macOS ignores xdg', paths.socket(env({ XDG_RUNTIME_DIR = '/run/x', TMPDIR = '/var/folders/T/' }), 'Darwin', 501), '/var/folders/T/rack-gateway-501/agent.sock')
eq('socket windows', paths.socket(env({ USERNAME = 'DOM\\me' }), 'Windows_NT'), [[\\.\pipe\rack-gateway-me]])
eq('config dir env', paths.config_dir(env({ GATEWAY_CLI_CONFIG_DIR = '/p/', HOME = '/h' })), '/p')
eq('config dir home', paths.config_dir(env({ HOME = '/h' })), '/h/.config/rack-gateway')

-- A secret prompt never goes to vim.ui.input unless asked to.
local rg = require('rack_gateway')
rg.config.secret_input = 'inputsecret'
local asked = {}
local saved_input, saved_secret, saved_answer = vim.ui.input, vim.fn.inputsecret, rg.answer
vim.ui.input = function(o, cb)
  asked[#asked + 1] = 'ui:' .. o.prompt .. ':' .. tostring(o.secret)
  cb('typed')
end
vim.fn.inputsecret = function(label)
  asked[#asked + 1] = 'secret:' .. label
  return '123456'
end
rg.answer = function(p, v, cb)
  asked[#asked + 1] = 'answer:' .. p.id .. '=' .. v
  cb(true)
end
rg.ask({ id = 'p1', rack = 'prod', text = 'Enter TOTP code:', secret = true })
rg.ask({ id = 'p2', rack = 'prod', text = 'Name?', secret = false })
rg.config.secret_input = 'ui'
rg.ask({ id = 'p3', rack = 'prod', text = 'PIN:', secret = true })
vim.fn.inputsecret = function()
  return ''
end
rg.config.secret_input = 'inputsecret'
rg.ask({ id = 'p4', rack = 'prod', text = 'Code:', secret = true }) -- cancelled: nothing sent
eq('ask', asked, {
  'secret:[prod] Enter TOTP code: ', 'answer:p1=123456',
  'ui:[prod] Name? :nil', 'answer:p2=typed',
  'ui:[prod] PIN: :true', 'answer:p3=typed',
})
vim.ui.input, vim.fn.inputsecret, rg.answer = saved_input, saved_secret, saved_answer

if #failures > 0 then
  io.stdout:write(table.concat(failures, '\n') .. '\n')
  vim.cmd('cquit 1')
else
  io.stdout:write(('ok %d\n'):format(checks))
  vim.cmd('qall!')
end
