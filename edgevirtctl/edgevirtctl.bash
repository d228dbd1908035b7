# bash completion for edgevirtctl
_edgevirtctl() {
        local cur prev words cword
        _init_completion || return
        local commands="new-project project get describe create apply delete wait image-upload export start stop restart pause unpause soft-reboot reset addvolume removevolume console guestosinfo userlist fslist vnc images pull rmi credentials scale memory-dump vmexport"
        local kinds="namespaces secrets configmaps persistentvolumeclaims datavolumes storageclasses virtualmachines virtualmachineinstances vm vmi pvc dv cm ns sc vmsnapshot vmsnapshotcontent vmrestore vmclone datasources dataimportcrons das dic virtualmachinepools vmpool virtualmachineinstancereplicasets vmirs virtualmachineexports vmexport"
        local i cmd= kind=
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                -n|-o|-i|-l|-f|--timeout|--for|--image-path|--size|--storage-class|--claim-name|--replicas|--bus|--grace-period|--user|--file|--value|--secret|--password|--volume-name|--serial|--vm|--snapshot|--pvc|--ttl|--volume|--format) ((i++)) ;;
                -*) ;;
                *) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $kind ]]; then kind=${words[i]}; fi ;;
                esac
        done
        case $prev in
        -n|--namespace) COMPREPLY=($(compgen -W "$(edgevirtctl get namespaces -o name 2>/dev/null | sed 's|.*/||')" -- "$cur")); return ;;
        -o|--output) [[ ($cmd == images && $kind == save) || $cmd == vmexport ]] && { _filedir; return; }
                COMPREPLY=($(compgen -W "json yaml name wide" -- "$cur")); return ;;
        -f|--filename|--image-path|--file|-i|--input) _filedir; return ;;
        --format) COMPREPLY=($(compgen -W "gzip raw qcow2" -- "$cur")); return ;;
        --vm) COMPREPLY=($(compgen -W "$(edgevirtctl get vm -o name 2>/dev/null | sed 's|.*/||')" -- "$cur")); return ;;
        --snapshot) COMPREPLY=($(compgen -W "$(edgevirtctl get vmsnapshot -o name 2>/dev/null | sed 's|.*/||')" -- "$cur")); return ;;
        --pvc) COMPREPLY=($(compgen -W "$(edgevirtctl get pvc -o name 2>/dev/null | sed 's|.*/||')" -- "$cur")); return ;;
        --volume-name) COMPREPLY=($(compgen -W "$(edgevirtctl get dv -o name 2>/dev/null | sed 's|.*/||')
                                $(edgevirtctl get pvc -o name 2>/dev/null | sed 's|.*/||')" -- "$cur")); return ;;
        esac
        if [[ -z $cmd ]]; then
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        elif [[ $cmd == @(get|describe|delete) && -z $kind ]]; then
                COMPREPLY=($(compgen -W "$kinds" -- "$cur"))
        elif [[ $cmd == @(get|describe|delete) ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get "$kind" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == project ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get namespaces -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == create && -z $kind ]]; then
                COMPREPLY=($(compgen -W "namespace configmap secret" -- "$cur"))
        elif [[ $cmd == @(addvolume|removevolume) && $cur == -* ]]; then
                local opts="--volume-name --persist"
                [[ $cmd == addvolume ]] && opts+=" --serial --bus"
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [[ $cmd == @(start|stop|restart|soft-reboot|reset|addvolume|removevolume|console|guestosinfo|userlist|fslist) && -z $kind ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get vm -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == @(pause|unpause) && -z $kind ]]; then
                COMPREPLY=($(compgen -W "vm vmi" -- "$cur"))
        elif [[ $cmd == @(pause|unpause) ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get "$kind" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == credentials && -z $kind ]]; then
                COMPREPLY=($(compgen -W "add-ssh-key remove-ssh-key set-password" -- "$cur"))
        elif [[ $cmd == credentials && $cur == -* ]]; then
                local opts="--user= --secret= --force"
                [[ $kind == set-password ]] && opts+=" --password=" || opts+=" --file= --value="
                [[ $kind == add-ssh-key ]] && opts+=" --create-secret --update-secret"
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ $cmd == credentials ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get vm -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == images && -z $kind ]]; then
                COMPREPLY=($(compgen -W "load save" -- "$cur"))
        elif [[ $cmd == images && $kind == load && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-i --input=" -- "$cur"))
        elif [[ $cmd == images && $kind == save && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-o --output=" -- "$cur"))
        elif [[ $cmd == images && $kind == save ]] || [[ $cmd == rmi ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl images -o json 2>/dev/null | python3 -c 'import json,sys
for i in json.load(sys.stdin):
    for r in i["references"]: print(r.removeprefix("docker://"))' 2>/dev/null)" -- "$cur"))
        elif [[ $cmd == memory-dump && -z $kind ]]; then
                COMPREPLY=($(compgen -W "get remove download" -- "$cur"))
        elif [[ $cmd == memory-dump && $cur == -* ]]; then
                local opts="--output="
                [[ $kind == get ]] && opts="--claim-name= --create-claim --storage-class="
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ $cmd == memory-dump ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get vm -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == vmexport && -z $kind ]]; then
                COMPREPLY=($(compgen -W "create delete download" -- "$cur"))
        elif [[ $cmd == vmexport && $cur == -* ]]; then
                local opts="--vm= --snapshot= --pvc= --ttl="
                [[ $kind == download ]] && opts="--output= --volume= --format= --manifest --vm= --snapshot= --pvc= --keep-vme"
                [[ $kind == delete ]] && opts=""
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ $cmd == vmexport && $kind == @(delete|download) ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get vmexport -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == scale && -z $kind ]]; then
                COMPREPLY=($(compgen -W "vmpool vmirs" -- "$cur"))
        elif [[ $cmd == scale && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--replicas=" -- "$cur"))
                compopt -o nospace
        elif [[ $cmd == scale ]]; then
                COMPREPLY=($(compgen -W "$(edgevirtctl get "$kind" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur"))
        elif [[ $cmd == export && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-n -o --push-disks= --tls-verify= --creds-secret=" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ $cmd == image-upload && -z $kind ]]; then
                COMPREPLY=($(compgen -W "dv" -- "$cur"))
        fi
}
complete -F _edgevirtctl edgevirtctl
