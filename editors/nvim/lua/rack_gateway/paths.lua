-- Finds the agent socket and the config directory the way the rack-gateway
-- CLI does (docs/local-api.md), so the plugin talks to the agent a CLI run
-- from this editor would talk to.
local uv = vim.loop

local M = {}

local function is_abs(p)
  return p ~= nil and p:sub(1, 1) == '/'
end

local function sysname()
  return uv.os_uname().sysname
end

local function join(...)
  return table.concat({ ... }, '/')
end

-- socket returns the default agent socket path. getenv and system are for
-- tests; they default to os.getenv and the running system's name.
--
--   Linux, BSD: $XDG_RUNTIME_DIR/rack-gateway/agent.sock when that
--               variable is an absolute path, else the macOS rule
--   macOS:      $TMPDIR/rack-gateway-<uid>/agent.sock (TMPDIR defaults to /tmp)
--   Windows:    \\.\pipe\rack-gateway-<user>
function M.socket(getenv, system, uid)
  getenv = getenv or os.getenv
  system = system or sysname()
  if system:match('^Windows') then
    local user = getenv('USERNAME') or 'user'
    user = user:gsub('^.*\\', ''):gsub('[%c\\/:*?"<>|]', '_')
    if user == '' then
      user = 'user'
    end
    return [[\\.\pipe\rack-gateway-]] .. user
  end
  local xdg = getenv('XDG_RUNTIME_DIR')
  if is_abs(xdg) and system ~= 'Darwin' then
    return join((xdg:gsub('/+$', '')), 'rack-gateway', 'agent.sock')
  end
  local tmp = getenv('TMPDIR')
  if tmp == nil or tmp == '' then
    tmp = '/tmp'
  end
  uid = uid or uv.getuid()
  return join((tmp:gsub('/+$', '')), 'rack-gateway-' .. uid, 'agent.sock')
end

-- config_dir returns the config directory a CLI started from this editor
-- would use: $GATEWAY_CLI_CONFIG_DIR, else $HOME/.config/rack-gateway
-- (%USERPROFILE% standing in for HOME). The agent reports each rack's
-- config_dir, so the statusline shows this directory's racks first.
function M.config_dir(getenv)
  getenv = getenv or os.getenv
  local dir = getenv('GATEWAY_CLI_CONFIG_DIR')
  if dir and dir ~= '' then
    return (dir:gsub('/+$', ''))
  end
  local home = getenv('HOME')
  if not home or home == '' then
    home = getenv('USERPROFILE')
  end
  if not home or home == '' then
    return nil
  end
  return join((home:gsub('/+$', '')), '.config', 'rack-gateway')
end

return M
