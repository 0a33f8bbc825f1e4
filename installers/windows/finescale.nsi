; Finescale setup for Windows (NSIS 3, 64-bit Unicode stub).
;   makensis installers/windows/finescale.nsi                 placeholder payload (checks logic)
;   makensis -DSRCDIR=C:\...\dist\finescale -DVERSION=0.1.0 installers/windows/finescale.nsi
; Per-user install by default (no admin: %LOCALAPPDATA%\Programs\Finescale); an administrator
; can choose "for all users" (Program Files) on the first page, or pass /AllUsers with /S.
; The uninstaller keeps the user's downloaded models and GPU files (%LOCALAPPDATA%\Finescale)
; unless its "Downloaded models" component is ticked, or /REMOVEDATA is passed with /S.
; The payload is the PyInstaller onedir with CPU torch (~0.8 GB): well under NSIS's 2 GB limit.
; CUDA torch never goes in here; the app installs it on demand (app/gpu_env).

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
SetCompressorDictSize 64

!define APP "Finescale"
!define EXE "finescale.exe"
!define PROGID "Finescale.Image"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define ROOT "../.." ; makensis works in this script's folder
!ifndef VERSION
  !define VERSION "0.1.0" ; keep equal to pyproject.toml (tests/installers checks it)
!endif
!ifndef SRCDIR
  !define SRCDIR "${ROOT}/build/windows/dist/finescale"
!endif
!ifndef OUTDIR
  !define OUTDIR "${ROOT}/dist"
!endif
!if /FileExists "${SRCDIR}/${EXE}"
  !define PAYLOAD "${SRCDIR}"
!else
  !warning "no Windows bundle at ${SRCDIR}: packing a placeholder payload"
  !define PAYLOAD "placeholder"
!endif

!system 'mkdir "${OUTDIR}"' ; may exist already; makensis fails clearly if it cannot write

Name "${APP} ${VERSION}"
OutFile "${OUTDIR}/finescale-${VERSION}-windows-x64-setup.exe"
BrandingText "${APP} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIFileVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP} setup"
VIAddVersionKey "CompanyName" "Finescale developers"
VIAddVersionKey "LegalCopyright" "MIT licence, Finescale developers"

!define MULTIUSER_EXECUTIONLEVEL Highest
!define MULTIUSER_INSTALLMODE_DEFAULT_CURRENTUSER
!define MULTIUSER_INSTALLMODE_COMMANDLINE
!define MULTIUSER_INSTALLMODE_INSTDIR "${APP}"
!define MULTIUSER_USE_PROGRAMFILES64
!define MULTIUSER_MUI
!include MultiUser.nsh
!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh

!define MUI_ICON "${ROOT}/resources/icons/finescale.ico"
!define MUI_UNICON "${ROOT}/resources/icons/finescale.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP}"

!insertmacro MULTIUSER_PAGE_INSTALLMODE
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var InstallFlag ; "/AllUsers" for per-machine installs, so the uninstaller picks the same mode

Function .onInit
  !insertmacro MULTIUSER_INIT
FunctionEnd

Function un.onInit
  !insertmacro MULTIUSER_UNINIT
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEDATA" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection 1 ; un.Data: the user asked for the models to go too
  ${EndIf}
FunctionEnd

Section "${APP} (required)" SecApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}/*"
  File "/oname=finescale.ico" "${ROOT}/resources/icons/finescale.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  StrCpy $InstallFlag ""
  ${If} $MultiUser.InstallMode == "AllUsers"
    StrCpy $InstallFlag " /AllUsers"
  ${EndIf}
  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\finescale.ico"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "Publisher" "Finescale developers"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\finescale.ico"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"$InstallFlag'
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S$InstallFlag'
  WriteRegDWORD SHCTX "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD SHCTX "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

Section "Desktop shortcut" SecDesktop
  CreateShortcut "$DESKTOP\${APP}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\finescale.ico"
SectionEnd

!macro OPEN_WITH EXT
  WriteRegStr SHCTX "Software\Classes\${EXT}\OpenWithProgids" "${PROGID}" ""
  WriteRegStr SHCTX "Software\Classes\Applications\${EXE}\SupportedTypes" "${EXT}" ""
!macroend

Section "Open with ${APP} (PNG, JPEG, WebP, BMP, TIFF)" SecOpenWith
  WriteRegStr SHCTX "Software\Classes\${PROGID}" "" "${APP} image"
  WriteRegStr SHCTX "Software\Classes\${PROGID}\DefaultIcon" "" "$INSTDIR\finescale.ico"
  WriteRegStr SHCTX "Software\Classes\${PROGID}\shell\open\command" "" '"$INSTDIR\${EXE}" "%1"'
  WriteRegStr SHCTX "Software\Classes\Applications\${EXE}" "FriendlyAppName" "${APP}"
  WriteRegStr SHCTX "Software\Classes\Applications\${EXE}\shell\open\command" "" '"$INSTDIR\${EXE}" "%1"'
  !insertmacro OPEN_WITH ".png"
  !insertmacro OPEN_WITH ".jpg"
  !insertmacro OPEN_WITH ".jpeg"
  !insertmacro OPEN_WITH ".webp"
  !insertmacro OPEN_WITH ".bmp"
  !insertmacro OPEN_WITH ".tif"
  !insertmacro OPEN_WITH ".tiff"
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)' ; SHCNE_ASSOCCHANGED
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The app, with CPU torch and the demo model."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "A shortcut on the desktop."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecOpenWith} "Offer ${APP} in Explorer's Open with menu."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

!macro CLOSE_WITH EXT
  DeleteRegValue SHCTX "Software\Classes\${EXT}\OpenWithProgids" "${PROGID}"
  DeleteRegKey /ifempty SHCTX "Software\Classes\${EXT}\OpenWithProgids"
  DeleteRegKey /ifempty SHCTX "Software\Classes\${EXT}"
!macroend

Section "un.${APP}" UnApp
  SectionIn RO
  Delete "$SMPROGRAMS\${APP}.lnk"
  Delete "$DESKTOP\${APP}.lnk"
  !insertmacro CLOSE_WITH ".png"
  !insertmacro CLOSE_WITH ".jpg"
  !insertmacro CLOSE_WITH ".jpeg"
  !insertmacro CLOSE_WITH ".webp"
  !insertmacro CLOSE_WITH ".bmp"
  !insertmacro CLOSE_WITH ".tif"
  !insertmacro CLOSE_WITH ".tiff"
  DeleteRegKey SHCTX "Software\Classes\${PROGID}"
  DeleteRegKey SHCTX "Software\Classes\Applications\${EXE}"
  DeleteRegKey SHCTX "${UNINSTALL_KEY}"
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)'
  ${If} ${FileExists} "$INSTDIR\uninstall.exe" ; only ever remove a folder this setup made
    RMDir /r "$INSTDIR"
  ${EndIf}
SectionEnd

Section /o "un.Downloaded models and GPU acceleration files" UnData
  SetShellVarContext current ; the data is per user even after a per-machine install
  RMDir /r "$LOCALAPPDATA\${APP}"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${UnApp} "The app and its shortcuts and file associations."
  !insertmacro MUI_DESCRIPTION_TEXT ${UnData} "Also delete $LOCALAPPDATA\${APP} (models you downloaded, GPU acceleration). Kept unless ticked."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END
