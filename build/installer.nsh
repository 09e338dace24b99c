; Included by electron-builder's NSIS installer (electron-builder.yml nsis.include).
; onnxruntime-node's onnxruntime_binding.node and onnxruntime.dll import MSVCP140, VCRUNTIME140(_1)
; and MSVCP140_ATOMIC_WAIT from the Microsoft Visual C++ 2015-2022 runtime, which a clean Windows
; does not have and Electron does not ship. Binaries built with MSVC 14.40+ also crash with an older
; runtime, so anything below 14.40 is updated. The runtime's own installer (bundled as
; resources\vc_redist.x64.exe) asks for administrator rights when it has to install.
!include LogicLib.nsh

!macro customInstall
  SetRegView 64
  ReadRegDWORD $0 HKLM "SOFTWARE\Microsoft\VisualStudio\14.0\VC\Runtimes\x64" "Installed"
  ReadRegDWORD $1 HKLM "SOFTWARE\Microsoft\VisualStudio\14.0\VC\Runtimes\x64" "Minor"
  SetRegView lastused
  ${If} $0 != 1
  ${OrIf} $1 < 40
    ${If} ${FileExists} "$INSTDIR\resources\vc_redist.x64.exe"
      DetailPrint "Installing the Microsoft Visual C++ runtime..."
      ExecWait '"$INSTDIR\resources\vc_redist.x64.exe" /install /quiet /norestart' $2
      ; 0: installed, 1638: a newer one is present, 3010: installed, restart pending.
      ${If} $2 != 0
      ${AndIf} $2 != 1638
      ${AndIf} $2 != 3010
        MessageBox MB_OK|MB_ICONEXCLAMATION "The Microsoft Visual C++ runtime could not be installed (code $2).$\r$\nInstruct Edit needs it to run edits: install it from https://aka.ms/vs/17/release/vc_redist.x64.exe"
      ${EndIf}
    ${EndIf}
  ${EndIf}
  Delete "$INSTDIR\resources\vc_redist.x64.exe"
!macroend
