@echo off
rem Stop the EnergyDash processes that start_all.bat started, found by their PID files in .run\
rem (or ENERGYDASH_RUN_DIR). Nothing else is touched: no process is looked up by name or port.
rem Windows has no SIGTERM for console programs, so the process is ended with taskkill; the
rem simulation state is saved periodically (ENERGYDASH_STATE_SAVE_INTERVAL_S) for this reason.
setlocal EnableExtensions EnableDelayedExpansion
cd /d "%~dp0"
set RUN_DIR=.run
if defined ENERGYDASH_RUN_DIR set RUN_DIR=%ENERGYDASH_RUN_DIR%
if exist .venv\Scripts\energydash.exe (
  for /f "usebackq delims=" %%v in (`.venv\Scripts\energydash.exe config --get run_dir`) do set RUN_DIR=%%v
)
if not exist "%RUN_DIR%" (echo nothing to stop ^(no %RUN_DIR%^) & exit /b 0)
for %%n in (replay-facility replay-market dashboard backend broker) do (
  if exist "%RUN_DIR%\%%n.pid" (
    set /p PID=<"%RUN_DIR%\%%n.pid"
    tasklist /FI "PID eq !PID!" /FI "IMAGENAME eq energydash.exe" 2>nul | find "!PID!" >nul && (
      taskkill /PID !PID! /T /F >nul
      echo %%n stopped ^(pid !PID!^)
    ) || echo %%n was not running ^(stale PID file removed^)
    del "%RUN_DIR%\%%n.pid"
  )
)
exit /b 0
