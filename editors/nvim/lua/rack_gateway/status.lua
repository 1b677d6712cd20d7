-- Pure functions over a GET /v1/status body: which rack to show and how.
-- They render exactly what `rack-gateway prompt` prints for the same
-- state (docs/local-api.md, "The status file"), so a shell prompt and the
-- editor's statusline never disagree.
local M = {}

M.icon_open = '🔓'
M.icon_closed = '🔒'

-- countdown renders whole seconds left: whole minutes rounded down ("7m"),
-- seconds under a minute ("45s"), "" when closed.
function M.countdown(secs)
  if secs >= 60 then
    return math.floor(secs / 60) .. 'm'
  elseif secs > 0 then
    return math.floor(secs) .. 's'
  end
  return ''
end

-- remaining is the window's whole seconds left, elapsed_s after the status
-- was read (the agent's remaining_s is for the moment it answered).
function M.remaining(rack, elapsed_s)
  local w = rack.window
  if type(w) ~= 'table' or w.active ~= true or type(w.remaining_s) ~= 'number' then
    return 0
  end
  local r = w.remaining_s - math.floor(elapsed_s)
  if r > 0 then
    return r
  end
  return 0
end

-- pick chooses the rack to show among the logged-in racks, in the order
-- the CLI resolves a command's rack: the named one (which must exist),
-- else the current one, else the first. Racks of config_dir (the
-- directory a CLI started here would read) come first; racks of other
-- directories count only when that directory has none.
function M.pick(status, name, config_dir)
  if type(status) ~= 'table' or type(status.racks) ~= 'table' then
    return nil
  end
  local mine, all = {}, {}
  for _, r in ipairs(status.racks) do
    if type(r) == 'table' and r.logged_in == true then
      all[#all + 1] = r
      if config_dir and r.config_dir == config_dir then
        mine[#mine + 1] = r
      end
    end
  end
  local racks = #mine > 0 and mine or all
  if name and name ~= '' then
    for _, r in ipairs(racks) do
      if r.name == name then
        return r
      end
    end
    return nil
  end
  for _, r in ipairs(racks) do
    if r.current == true then
      return r
    end
  end
  return racks[1]
end

-- render expands format for rack, elapsed_s after the status was read.
-- format is nil for the default "prod 🔓 7m" / "prod 🔒", or a string with
-- the placeholders of `rack-gateway prompt --format`: %r rack, %t
-- countdown, %s seconds left, %e email, %i icon, %% a percent sign.
function M.render(rack, elapsed_s, format)
  if not rack then
    return ''
  end
  local secs = M.remaining(rack, elapsed_s)
  local icon = secs > 0 and M.icon_open or M.icon_closed
  if not format or format == '' then
    if secs > 0 then
      return rack.name .. ' ' .. icon .. ' ' .. M.countdown(secs)
    end
    return rack.name .. ' ' .. icon
  end
  local values = {
    r = rack.name or '',
    t = M.countdown(secs),
    s = tostring(secs),
    e = type(rack.email) == 'string' and rack.email or '',
    i = icon,
    ['%'] = '%',
  }
  return (format:gsub('%%(.)', function(c)
    return values[c] or ('%' .. c)
  end))
end

-- describe names a pending prompt for a notification: the rack, the
-- command and the terminal it waits in: the prompt's tty and the CLI's pid
-- (an agent before the tty field gives only the pid).
function M.describe(p)
  local tty = type(p.tty) == 'string' and p.tty ~= '' and p.tty or nil
  local pid = type(p.pid) == 'number' and p.pid > 0 and p.pid or nil
  local where
  if tty and pid then
    where = ('%s (pid %d)'):format(tty, pid)
  elseif tty then
    where = tty
  elseif pid then
    where = 'the terminal of pid ' .. pid
  else
    where = 'a terminal'
  end
  local rack = type(p.rack) == 'string' and p.rack ~= '' and p.rack or 'rack-gateway'
  local cmd = type(p.command) == 'string' and p.command ~= '' and p.command or 'a command'
  local text = type(p.text) == 'string' and p.text or ''
  return ('%s: `%s` in %s is waiting: %s'):format(rack, cmd, where, vim.trim(text))
end

return M
