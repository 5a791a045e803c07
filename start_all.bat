@echo off
rem Start EnergyDash on Windows: the local MQTT broker, the backend and the dashboard in the
rem background, logs in logs\, PID files in .run\ (ENERGYDASH_LOG_DIR / ENERGYDASH_RUN_DIR).
rem   start_all.bat               broker + backend + dashboard
rem   start_all.bat --no-broker   use the external broker named by ENERGYDASH_MQTT_HOST/PORT
rem   start_all.bat --replay      also replay the shipped sample dataset over MQTT, looping
setlocal EnableExtensions EnableDelayedExpansion
cd /d "%~dp0"

set WITH_BROKER=1
set WITH_REPLAY=0
:args
if "%~1"=="" goto args_done
if "%~1"=="--no-broker" (set WITH_BROKER=0& shift & goto args)
if "%~1"=="--replay" (set WITH_REPLAY=1& shift & goto args)
echo error: unknown option %~1 1>&2
exit /b 2
:args_done

set VENV=.venv
set PY=%VENV%\Scripts\python.exe
set ED=%VENV%\Scripts\energydash.exe
if not exist "%PY%" (
  echo creating virtual environment %VENV%
  py -3 -m venv %VENV% 2>nul || python -m venv %VENV% || (echo error: Python 3.11+ is needed 1>&2 & exit /b 1)
)
rem Reinstall when the requirements changed since the last install (hash stamp in the venv).
for /f "usebackq delims=" %%h in (`powershell -NoProfile -Command "(Get-FileHash -InputStream ([IO.MemoryStream]::new([IO.File]::ReadAllBytes('requirements.txt') + [IO.File]::ReadAllBytes('pyproject.toml')))).Hash"`) do set WANT=%%h
set HAVE=
if exist "%VENV%\.energydash-runtime.stamp" set /p HAVE=<"%VENV%\.energydash-runtime.stamp"
if not "!HAVE!"=="!WANT!" (
  echo installing dependencies into %VENV% ^(first run takes a few minutes^)
  "%PY%" -m pip install -q --upgrade pip >nul
  "%PY%" -m pip install -q -r requirements.txt || (echo error: pip install failed 1>&2 & exit /b 1)
  "%PY%" -m pip install -q --no-deps -e . || (echo error: installing energydash failed 1>&2 & exit /b 1)
  echo !WANT!>"%VENV%\.energydash-runtime.stamp"
)

for /f "usebackq delims=" %%v in (`"%ED%" config --get run_dir`) do set RUN_DIR=%%v
if errorlevel 1 exit /b 2
for /f "usebackq delims=" %%v in (`"%ED%" config --get log_dir`) do set LOG_DIR=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get mqtt_host`) do set MQTT_HOST=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get mqtt_port`) do set MQTT_PORT=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get data_dir`) do set DATA_DIR=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get dashboard_host`) do set DASH_HOST=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get dashboard_port`) do set DASH_PORT=%%v
for /f "usebackq delims=" %%v in (`"%ED%" config --get redfish_user`) do set RF_USER=%%v
for /f "usebackq delims=" %%v in (`"%PY%" -c "from energydash.config import get_settings as g; print(g().backend_base_url)"`) do set BACKEND_URL=%%v
if not exist "%RUN_DIR%" mkdir "%RUN_DIR%"
if not exist "%LOG_DIR%" mkdir "%LOG_DIR%"

if "%WITH_BROKER%"=="1" (
  call :start broker "tcp:%MQTT_HOST%:%MQTT_PORT%" broker || exit /b 1
)
call :start backend "%BACKEND_URL%/health" serve || exit /b 1
call :start dashboard "http://%DASH_HOST%:%DASH_PORT%/" dashboard || exit /b 1
if "%WITH_REPLAY%"=="1" (
  call :start replay-facility "none" replay --preset facility --loop --speed 300 --quiet data\sample\csv\facility_metrics_wide.csv || exit /b 1
  call :start replay-market "none" replay --preset market --loop --speed 300 --quiet data\sample\csv\market_metrics_wide.csv || exit /b 1
)

echo.
echo EnergyDash is up.
echo   Dashboard        http://%DASH_HOST%:%DASH_PORT%/
echo   Redfish          %BACKEND_URL%/redfish/v1/   (user %RF_USER%, password from ENERGYDASH_REDFISH_PASSWORD or as changed over Redfish)
echo   REST + OpenAPI   %BACKEND_URL%/api/v1/  %BACKEND_URL%/docs
echo   MQTT             mqtt://%MQTT_HOST%:%MQTT_PORT%   (no anonymous clients; energydash broker identities)
echo                    passwords in %DATA_DIR%\secrets\mqtt-backend, mqtt-replay, mqtt-commander
echo   Logs             %LOG_DIR%\      Stop with stop_all.bat
exit /b 0

rem :start NAME CHECK ARGS... : start "energydash ARGS" hidden unless its PID file names a live
rem process, then wait until CHECK (tcp:host:port, an http URL, or none) answers.
:start
set NAME=%~1
set CHECK=%~2
set PIDFILE=%RUN_DIR%\%NAME%.pid
if exist "%PIDFILE%" (
  set /p OLDPID=<"%PIDFILE%"
  tasklist /FI "PID eq !OLDPID!" /FI "IMAGENAME eq energydash.exe" 2>nul | find "!OLDPID!" >nul && (
    echo %NAME% is already running ^(pid !OLDPID!^)
    exit /b 0
  )
  del "%PIDFILE%"
)
shift & shift
set ARGS=
:collect
if "%~1"=="" goto collected
set ARGS=!ARGS! '%~1'
shift
goto collect
:collected
powershell -NoProfile -Command "$p = Start-Process -FilePath '%ED%' -ArgumentList @(%ARGS:~1%) -WindowStyle Hidden -RedirectStandardOutput '%LOG_DIR%\%NAME%.out' -RedirectStandardError '%LOG_DIR%\%NAME%.err' -PassThru; Set-Content -Encoding ascii '%PIDFILE%' $p.Id"
set /p NEWPID=<"%PIDFILE%"
powershell -NoProfile -Command "$check='%CHECK%'; for ($i=0; $i -lt 450; $i++) { if (-not (Get-Process -Id %NEWPID% -ErrorAction SilentlyContinue)) { exit 1 }; if ($check -eq 'none') { exit 0 }; try { if ($check.StartsWith('tcp:')) { $h,$pt = $check.Substring(4).Split(':'); (New-Object Net.Sockets.TcpClient($h,[int]$pt)).Close(); exit 0 } else { if ((Invoke-WebRequest -UseBasicParsing -TimeoutSec 2 $check).StatusCode -lt 500) { exit 0 } } } catch {}; Start-Sleep -Milliseconds 200 }; exit 1"
if errorlevel 1 (
  echo error: %NAME% did not start; last lines of %LOG_DIR%\%NAME%.err: 1>&2
  powershell -NoProfile -Command "Get-Content -Tail 30 '%LOG_DIR%\%NAME%.err','%LOG_DIR%\%NAME%.out' -ErrorAction SilentlyContinue" 1>&2
  exit /b 1
)
echo %NAME% started ^(pid %NEWPID%^)
exit /b 0
