"""A static check of systemd unit files: what ``systemd-analyze verify`` checks, in Python.

CI machines and containers may lack systemd; this runs anywhere. It parses units the way
systemd does (sections, repeated keys, line continuations, comments) and reports:

- unknown sections and keys (systemd only warns and ignores them: a typo silently
  disables a setting, so here it is an error);
- invalid values for the enumerated, boolean, time-span and resource-limit keys used;
- ``Exec*`` commands that are not absolute paths (after systemd's ``-@:+!`` prefixes);
- ``${VAR}`` in commands not set by ``Environment=`` or the unit's environment file;
- dependencies on units that are neither in the same set nor standard targets, a
  ``Requires=``/``BindsTo=`` without the matching ``After=``, and ordering cycles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# Keys systemd (>= 245) knows, for the sections these units use. Not every key systemd
# has: every key a unit here may reasonably use; add to it when a unit needs more.
UNIT_KEYS = {
    "Description", "Documentation", "Wants", "Requires", "Requisite", "BindsTo", "PartOf",
    "Upholds", "Conflicts", "Before", "After", "OnFailure", "OnSuccess", "PropagatesReloadTo",
    "ReloadPropagatedFrom", "JoinsNamespaceOf", "RequiresMountsFor", "OnFailureJobMode",
    "IgnoreOnIsolate", "StopWhenUnneeded", "RefuseManualStart", "RefuseManualStop",
    "AllowIsolate", "DefaultDependencies", "CollectMode", "FailureAction", "SuccessAction",
    "StartLimitIntervalSec", "StartLimitBurst", "StartLimitAction", "RebootArgument",
    "ConditionPathExists", "ConditionPathIsDirectory", "ConditionFileIsExecutable",
    "ConditionVirtualization", "ConditionHost", "ConditionKernelCommandLine",
    "ConditionArchitecture", "ConditionUser", "ConditionGroup", "AssertPathExists",
    "JobTimeoutSec", "JobRunningTimeoutSec",
}
SERVICE_KEYS = {
    # [Service]
    "Type", "ExitType", "RemainAfterExit", "GuessMainPID", "PIDFile", "BusName", "ExecStart",
    "ExecStartPre", "ExecStartPost", "ExecCondition", "ExecReload", "ExecStop",
    "ExecStopPost", "RestartSec", "TimeoutStartSec", "TimeoutStopSec", "TimeoutAbortSec",
    "TimeoutSec", "RuntimeMaxSec", "WatchdogSec", "Restart", "SuccessExitStatus",
    "RestartPreventExitStatus", "RestartForceExitStatus", "RootDirectoryStartOnly",
    "NonBlocking", "NotifyAccess", "Sockets", "FileDescriptorStoreMax", "USBFunctionDescriptors",
    "OOMPolicy",
    # [Service] from systemd.exec
    "WorkingDirectory", "RootDirectory", "User", "Group", "DynamicUser", "SupplementaryGroups",
    "PAMName", "CapabilityBoundingSet", "AmbientCapabilities", "NoNewPrivileges",
    "SecureBits", "Environment", "EnvironmentFile", "PassEnvironment", "UnsetEnvironment",
    "UMask", "Nice", "OOMScoreAdjust", "IOSchedulingClass", "IOSchedulingPriority",
    "CPUSchedulingPolicy", "CPUSchedulingPriority", "CPUSchedulingResetOnFork",
    "CPUAffinity", "NUMAPolicy", "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK",
    "LimitCORE", "LimitRSS", "LimitNOFILE", "LimitAS", "LimitNPROC", "LimitMEMLOCK",
    "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE", "LimitNICE", "LimitRTPRIO",
    "LimitRTTIME", "ProtectSystem", "ProtectHome", "RuntimeDirectory", "StateDirectory",
    "CacheDirectory", "LogsDirectory", "ConfigurationDirectory", "RuntimeDirectoryMode",
    "StateDirectoryMode", "CacheDirectoryMode", "LogsDirectoryMode",
    "ConfigurationDirectoryMode", "RuntimeDirectoryPreserve", "ReadWritePaths",
    "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths", "TemporaryFileSystem",
    "PrivateTmp", "PrivateDevices", "PrivateNetwork", "PrivateUsers", "PrivateMounts",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock",
    "ProtectControlGroups", "ProtectHostname", "ProtectProc", "ProcSubset",
    "RestrictAddressFamilies", "RestrictNamespaces", "LockPersonality",
    "MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID", "RemoveIPC",
    "SystemCallFilter", "SystemCallErrorNumber", "SystemCallArchitectures", "DeviceAllow",
    "DevicePolicy", "StandardInput", "StandardOutput", "StandardError", "SyslogIdentifier",
    "SyslogFacility", "SyslogLevel", "SyslogLevelPrefix", "LogLevelMax", "LogExtraFields",
    "LogRateLimitIntervalSec", "LogRateLimitBurst", "LogNamespace", "TTYPath",
    "KillMode", "KillSignal", "SendSIGHUP", "SendSIGKILL", "FinalKillSignal",
    "WatchdogSignal", "RestartKillSignal", "Slice", "CPUWeight", "CPUQuota", "MemoryMax",
    "MemoryHigh", "MemoryLow", "TasksMax", "IOWeight", "Delegate",
}
INSTALL_KEYS = {"WantedBy", "RequiredBy", "Also", "Alias", "DefaultInstance"}
SECTIONS = {"Unit": UNIT_KEYS, "Service": SERVICE_KEYS, "Install": INSTALL_KEYS}
JOURNAL_KEYS = {
    "Storage", "Compress", "Seal", "SplitMode", "RateLimitIntervalSec", "RateLimitBurst",
    "SystemMaxUse", "SystemKeepFree", "SystemMaxFileSize", "SystemMaxFiles", "RuntimeMaxUse",
    "RuntimeKeepFree", "RuntimeMaxFileSize", "RuntimeMaxFiles", "MaxRetentionSec",
    "MaxFileSec", "ForwardToSyslog", "ForwardToKMsg", "ForwardToConsole", "ForwardToWall",
    "MaxLevelStore", "MaxLevelSyslog", "MaxLevelKMsg", "MaxLevelConsole", "MaxLevelWall",
    "ReadKMsg", "Audit", "LineMax", "SyncIntervalSec", "TTYPath",
}

ENUMS = {
    "Type": {"simple", "exec", "forking", "oneshot", "dbus", "notify", "notify-reload", "idle"},
    "Restart": {"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort",
                "always"},
    "NotifyAccess": {"none", "main", "exec", "all"},
    "ProtectSystem": {"yes", "no", "true", "false", "full", "strict"},
    "ProtectHome": {"yes", "no", "true", "false", "read-only", "tmpfs"},
    "KillMode": {"control-group", "mixed", "process", "none"},
    "StandardOutput": {"inherit", "null", "tty", "journal", "kmsg", "journal+console",
                       "kmsg+console", "socket"},
    "StandardError": {"inherit", "null", "tty", "journal", "kmsg", "journal+console",
                      "kmsg+console", "socket"},
    "CPUSchedulingPolicy": {"other", "batch", "idle", "fifo", "rr"},
    "OOMPolicy": {"continue", "stop", "kill"},
}
BOOLEANS = {
    "RemainAfterExit", "NoNewPrivileges", "PrivateTmp", "PrivateDevices", "PrivateNetwork",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups",
    "LockPersonality", "MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID",
    "DefaultDependencies", "RestrictNamespaces", "ProtectClock", "ProtectHostname",
    "ProtectKernelLogs", "RemoveIPC", "DynamicUser", "CPUSchedulingResetOnFork",
}
BOOL_VALUES = {"1", "yes", "y", "true", "t", "on", "0", "no", "n", "false", "f", "off"}
TIME_KEYS = {
    "RestartSec", "TimeoutStartSec", "TimeoutStopSec", "TimeoutSec", "WatchdogSec",
    "StartLimitIntervalSec", "LogRateLimitIntervalSec", "RuntimeMaxSec", "TimeoutAbortSec",
    "MaxRetentionSec", "MaxFileSec", "RateLimitIntervalSec", "SyncIntervalSec",
}
_TIME = re.compile(
    r"^(infinity|(\d+(\.\d+)?\s*(us|usec|ms|msec|s|sec|second|seconds|m|min|minute|minutes|"
    r"h|hr|hour|hours|d|day|days|w|week|weeks|M|month|months|y|year|years)?\s*)+)$"
)
_SIZE = re.compile(r"^(infinity|\d+[KMGTPE]?)$")
MODE_KEYS = {"RuntimeDirectoryMode", "StateDirectoryMode", "CacheDirectoryMode",
             "LogsDirectoryMode", "ConfigurationDirectoryMode", "UMask"}
DEPENDENCY_KEYS = ("Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds",
                   "Conflicts", "Before", "After", "OnFailure")
#: Units every systemd system has, which units here may depend on.
STANDARD_UNITS = {
    "sound.target", "multi-user.target", "network.target", "network-online.target",
    "basic.target", "sysinit.target", "local-fs.target", "graphical.target",
    "systemd-journald.service", "time-sync.target",
}


@dataclass
class Unit:
    path: Path
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def get(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def last(self, section: str, key: str, default: str = "") -> str:
        values = self.get(section, key)
        return values[-1] if values else default

    def words(self, section: str, key: str) -> list[str]:
        return [w for v in self.get(section, key) for w in v.split()]


def parse(path: Path) -> tuple[Unit, list[str]]:
    """Parse a unit (or a journald.conf-style file). Returns the unit and syntax errors."""
    unit = Unit(path)
    errors: list[str] = []
    section: str | None = None
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                errors.append(f"{path.name}:{number}: bad section header {line!r}")
                continue
            section = line[1:-1]
            unit.sections.setdefault(section, {})
            continue
        if "=" not in line:
            errors.append(f"{path.name}:{number}: not KEY=VALUE: {line!r}")
            continue
        if section is None:
            errors.append(f"{path.name}:{number}: assignment outside a section")
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        unit.sections[section].setdefault(key, []).append(value)
    return unit, errors


def environment_file_vars(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def check_unit(unit: Unit, env_files: dict[str, Path] | None = None) -> list[str]:
    """Errors in one unit. ``env_files`` maps an ``EnvironmentFile=`` path on the box to
    the file here that will be installed there (its variables count as set)."""
    env_files = env_files or {}
    errors: list[str] = []
    name = unit.name
    for section, keys in unit.sections.items():
        known = SECTIONS.get(section)
        if known is None:
            errors.append(f"{name}: unknown section [{section}]")
            continue
        for key, values in keys.items():
            if key not in known:
                errors.append(f"{name}: unknown key {key} in [{section}]")
                continue
            for value in values:
                errors += _check_value(name, key, value)
    if "Service" in unit.sections:
        errors += _check_service(unit, env_files)
    return errors


def _check_value(name: str, key: str, value: str) -> list[str]:
    bad = f"{name}: {key}={value!r} is not valid"
    if key in ENUMS and value not in ENUMS[key]:
        return [f"{bad} (one of {sorted(ENUMS[key])})"]
    if key in BOOLEANS and value.lower() not in BOOL_VALUES:
        return [f"{bad} (a boolean)"]
    if key in TIME_KEYS and not _TIME.match(value):
        return [f"{bad} (a time span)"]
    if key.startswith("Limit") and not re.match(r"^(infinity|\d+[KMGTPE]?)(:(infinity|\d+))?$",
                                                value):
        return [f"{bad} (a resource limit)"]
    if key in MODE_KEYS and not re.match(r"^0?[0-7]{3,4}$", value):
        return [f"{bad} (an octal mode)"]
    if key.endswith("Directory") and key in SERVICE_KEYS and key not in (
        "WorkingDirectory", "RootDirectory",
    ):
        for word in value.split():
            if word.startswith("/") or ".." in word:
                return [f"{bad} (a relative directory name, like 'instrument')"]
    if key in ("ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths"):
        for word in value.split():
            if not word.lstrip("-+").startswith("/"):
                return [f"{bad} (absolute paths)"]
    if key == "Nice" and not (value.lstrip("-").isdigit() and -20 <= int(value) <= 19):
        return [f"{bad} (-20..19)"]
    return []


_PREFIXES = "-@:+!"


def _check_service(unit: Unit, env_files: dict[str, Path]) -> list[str]:
    name = unit.name
    errors: list[str] = []
    svc_type = unit.last("Service", "Type", "simple")
    starts = unit.get("Service", "ExecStart")
    if not starts:
        errors.append(f"{name}: no ExecStart=")
    if len(starts) > 1 and svc_type != "oneshot":
        errors.append(f"{name}: several ExecStart= need Type=oneshot")
    defined: set[str] = set()
    for assignment in unit.words("Service", "Environment"):
        defined.add(assignment.split("=", 1)[0])
    for env_file in unit.get("Service", "EnvironmentFile"):
        optional = env_file.startswith("-")
        target = env_file.lstrip("-")
        if not target.startswith("/"):
            errors.append(f"{name}: EnvironmentFile={env_file} is not absolute")
        local = env_files.get(target)
        if local is not None:
            defined |= environment_file_vars(local)
        elif not optional:
            errors.append(f"{name}: EnvironmentFile={target} is required but nothing installs it")
    for key in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop", "ExecStopPost",
                "ExecReload", "ExecCondition"):
        for command in unit.get("Service", key):
            program = command.lstrip(_PREFIXES).split()[0] if command.strip() else ""
            if not program.startswith("/"):
                errors.append(f"{name}: {key}={command!r}: the program must be an absolute path")
            for var in re.findall(r"\$\{(\w+)\}|\$(\w+)", command):
                var_name = var[0] or var[1]
                if var_name not in defined and var_name != "MAINPID":
                    errors.append(f"{name}: {key} uses ${var_name}, which nothing sets")
    if unit.get("Service", "WatchdogSec") and svc_type not in ("notify", "notify-reload"):
        errors.append(f"{name}: WatchdogSec= needs Type=notify (the service pings sd_notify)")
    state = unit.words("Service", "StateDirectory")
    if unit.last("Service", "ProtectSystem") == "strict":
        writable = unit.words("Service", "ReadWritePaths")
        for directory in state:
            if f"/var/lib/{directory}" not in writable:
                errors.append(
                    f"{name}: ProtectSystem=strict but /var/lib/{directory} is not in "
                    "ReadWritePaths"
                )
    return errors


def check_set(units: list[Unit]) -> list[str]:
    """Dependencies between units: known targets, Requires with After, no cycles."""
    names = {u.name for u in units} | STANDARD_UNITS
    errors: list[str] = []
    after: dict[str, set[str]] = {u.name: set() for u in units}
    for u in units:
        for key in DEPENDENCY_KEYS:
            for dep in u.words("Unit", key):
                if dep not in names:
                    errors.append(f"{u.name}: {key}={dep}: no such unit here or in systemd")
        for dep in u.words("Unit", "After"):
            after[u.name].add(dep)
        for dep in u.words("Unit", "Before"):
            after.setdefault(dep, set()).add(u.name)
        for key in ("Requires", "BindsTo"):
            for dep in u.words("Unit", key):
                if dep not in u.words("Unit", "After"):
                    errors.append(f"{u.name}: {key}={dep} without After={dep}: they would "
                                  "start at the same time")
        for key in ("WantedBy", "RequiredBy"):
            for target in u.words("Install", key):
                if target not in names:
                    errors.append(f"{u.name}: {key}={target}: no such unit")
    # Ordering cycles (systemd breaks them by dropping a job, at random).
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(after.get(node, ())):
            if state.get(nxt) == 1:
                errors.append("ordering cycle: " + " -> ".join([*stack, node, nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in sorted(after):
        if node not in state:
            visit(node, [])
    return errors


def check_journald_dropin(path: Path) -> list[str]:
    unit, errors = parse(path)
    for section, keys in unit.sections.items():
        if section != "Journal":
            errors.append(f"{path.name}: unknown section [{section}] (journald.conf has [Journal])")
            continue
        for key, values in keys.items():
            if key not in JOURNAL_KEYS:
                errors.append(f"{path.name}: unknown key {key} in [Journal]")
            for value in values:
                if key.endswith(("Use", "FileSize", "KeepFree")) and not _SIZE.match(value):
                    errors.append(f"{path.name}: {key}={value!r} is not a size")
                if key in TIME_KEYS and not _TIME.match(value):
                    errors.append(f"{path.name}: {key}={value!r} is not a time span")
    return errors
