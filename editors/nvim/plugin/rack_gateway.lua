-- Commands of the rack-gateway plugin. Nothing connects until setup() or
-- the first statusline() call, so loading the plugin costs nothing.
if vim.g.loaded_rack_gateway then
  return
end
vim.g.loaded_rack_gateway = true

local function rg()
  return require('rack_gateway')
end

vim.api.nvim_create_user_command('RackGatewayStatus', function()
  vim.notify(rg().info(), vim.log.levels.INFO)
end, { desc = 'rack-gateway: show the agent, its racks and waiting prompts' })

vim.api.nvim_create_user_command('RackGatewayAnswer', function()
  rg().answer_pending()
end, { desc = 'rack-gateway: answer a prompt a command is waiting on' })

vim.api.nvim_create_user_command('RackGatewayStepUp', function()
  rg().step_up()
end, { desc = 'rack-gateway: open a step-up window (rack-gateway mfa renew) in a terminal' })

vim.api.nvim_create_user_command('RackGatewayReconnect', function()
  local m = rg()
  m.setup(m.config)
end, { desc = 'rack-gateway: reconnect to the agent now' })
