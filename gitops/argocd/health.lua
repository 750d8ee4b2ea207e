-- Argo CD resource health check for canarygate.io/CanaryGate.
--
-- Argo CD runs a health check configured in argocd-cm without Lua's string library, so this
-- script uses the base and table libraries only (concatenation, tostring, ipairs). Its tests
-- run it on gopher-lua with exactly those libraries (tests/integration/test_argocd_health.py).
--
--   Promoted                        -> Healthy
--   RolledBack, Invalid             -> Degraded
--   WaitingForApproval              -> Suspended (a person must approve the next move)
--   Pending, Progressing            -> Progressing, or Degraded when a condition says the spec
--                                      or the routing needs fixing (QueryError, a missing or
--                                      invalid routing object, weights changed by someone else)
--   no status yet, a new revision or a spec edit the operator has not seen -> Progressing
local hs = {}

local function text(value, fallback)
  if value == nil then
    return fallback
  end
  return tostring(value)
end

local function rollout(status)
  local words = "canary at " .. text(status.weight, "?") .. "%"
  if status.health ~= nil then
    words = words .. ", health " .. status.health
  end
  if status.message ~= nil and status.message ~= "" then
    words = words .. ": " .. status.message
  end
  return words
end

-- A condition that no waiting will fix: the message says what to change.
local function blocking(status)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.status == "False" then
      if condition.type == "SpecValid" or condition.type == "QueriesAccepted" or condition.type == "TrafficReady" then
        return condition.type .. " is False (" .. text(condition.reason, "no reason") .. "): " .. text(condition.message, "")
      end
    end
  end
  return nil
end

local spec = obj.spec or {}
local canary = spec.canary or {}
local metadata = obj.metadata or {}
local status = obj.status

if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the canarygate operator to start the rollout"
  return hs
end

if status.observedGeneration ~= nil and metadata.generation ~= nil and status.observedGeneration < metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the canarygate operator to see generation " .. tostring(metadata.generation) .. " of the spec"
  return hs
end

if status.phase == "Invalid" then
  hs.status = "Degraded"
  hs.message = text(status.message, "invalid spec")
  return hs
end

if canary.revision ~= nil and canary.revision ~= status.revision then
  hs.status = "Progressing"
  hs.message = "Waiting for the canarygate operator to start revision " .. canary.revision
  return hs
end

local subject = "Rollout"
if status.revision ~= nil then
  subject = "Revision " .. status.revision
end

if status.phase == "Promoted" then
  hs.status = "Healthy"
  hs.message = subject .. " promoted: " .. rollout(status)
  return hs
end

if status.phase == "RolledBack" then
  hs.status = "Degraded"
  hs.message = subject .. " rolled back: " .. rollout(status)
  return hs
end

local problem = blocking(status)
if problem ~= nil then
  hs.status = "Degraded"
  hs.message = subject .. " holding: " .. problem
  return hs
end

if status.phase == "WaitingForApproval" then
  local key = "the next move"
  if status.approval ~= nil and status.approval.key ~= nil then
    key = status.approval.key
  end
  hs.status = "Suspended"
  hs.message = "Waiting for approval of " .. key .. " (canarygate approve " .. text(metadata.namespace, "?") .. "/" .. text(metadata.name, "?") .. "): " .. rollout(status)
  return hs
end

if status.phase == "Pending" or status.phase == "Progressing" then
  hs.status = "Progressing"
  local words = {Pending = " pending: ", Progressing = " progressing: "}
  hs.message = subject .. words[status.phase] .. rollout(status)
  return hs
end

hs.status = "Unknown"
hs.message = "Unknown phase " .. tostring(status.phase)
return hs
