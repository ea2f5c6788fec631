package main

import (
	"fmt"
	"strings"
)

// The completion scripts, written from the model of the real commands and flag sets
// (completionModel). Each shell gets the same behaviour: commands, then each command's flags
// (Go's single-dash spelling), -limit's host and group names from `perfprov __complete hosts`
// (a comma-separated list, or @FILE), files and directories where a flag or the arguments take
// them, the shells for `completion`.

// shQuote quotes s for a POSIX shell (bash, zsh): in single quotes, a quote inside closing them,
// escaped, and opening them again.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes s for fish: single quotes, with \ and ' escaped.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

const bashHead = `# bash completion for perfprov, written by 'perfprov completion bash'. Load it with
#   source <(perfprov completion bash)
# in ~/.bashrc, or save it as ~/.local/share/bash-completion/completions/perfprov.

# _perfprov_hosts CUR CMD...: COMPREPLY is the host and group names CMD prints that complete the
# last item of CUR's comma-separated list, or files after an @.
_perfprov_hosts() {
    local cur=$1 prefix=
    shift
    if [[ $cur == *,* ]]; then
        prefix=${cur%,*},
        cur=${cur##*,}
    fi
    if [[ $cur == @* ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -P "$prefix@" -- "${cur#@}"))
        return
    fi
    local names
    names=$("$@" 2>/dev/null)
    COMPREPLY=($(compgen -W "$names" -P "$prefix" -- "$cur"))
}

_perfprov() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev= flag=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W @COMMANDS@ -- "$cur"))
        return
    fi
    # bash splits -flag=value at '=' (COMP_WORDBREAKS): the flag is before the '='.
    if [[ $cur == = ]]; then
        cur= flag=$prev
    elif [[ $prev == = ]] && ((COMP_CWORD > 2)); then
        flag=${COMP_WORDS[COMP_CWORD-2]}
    else
        flag=$prev
    fi
    [[ $flag == --* ]] && flag=${flag#-}
    local cmd=${COMP_WORDS[1]} flags=
    case $cmd in
`

// bashCompletion is the bash script: one function, with each command's flags and what its
// valued flags and arguments take.
func bashCompletion(cmds []completionCommand) string {
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	var b strings.Builder
	b.WriteString(strings.Replace(bashHead, "@COMMANDS@", shQuote(strings.Join(names, " ")), 1))
	for _, c := range cmds {
		var fl []string
		for _, f := range c.flags {
			fl = append(fl, "-"+f.name)
		}
		fmt.Fprintf(&b, "    %s) flags=%s ;;\n", c.name, shQuote(strings.Join(fl, " ")))
	}
	b.WriteString("    esac\n    case \"$cmd $flag\" in\n")
	kinds := map[string][]string{}
	for _, c := range cmds {
		for _, f := range c.flags {
			if f.takesValue {
				kinds[f.kind] = append(kinds[f.kind], shQuote(c.name+" -"+f.name))
			}
		}
	}
	actions := []struct{ kind, action string }{
		{valueHosts, `_perfprov_hosts "$cur" "${COMP_WORDS[0]}" ` + completeCommand + ` hosts "${COMP_WORDS[@]:1:COMP_CWORD-1}"`},
		{valueFile, `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`},
		{valueDir, `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))`},
		{valueNone, `: # a value: nothing to offer`},
	}
	for _, a := range actions {
		if len(kinds[a.kind]) > 0 {
			fmt.Fprintf(&b, "    %s)\n        %s\n        return ;;\n", strings.Join(kinds[a.kind], "|"), a.action)
		}
	}
	b.WriteString(`    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi
    case $cmd in
`)
	for _, c := range cmds {
		switch c.args {
		case "shell":
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", c.name, shQuote(strings.Join(completionShells, " ")))
		case "":
			fmt.Fprintf(&b, "    %s) ;;\n", c.name)
		}
	}
	b.WriteString(`    *)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}

complete -F _perfprov perfprov
`)
	return b.String()
}

const zshHead = `#compdef perfprov
# zsh completion for perfprov, written by 'perfprov completion zsh'. Load it with
#   source <(perfprov completion zsh)
# in ~/.zshrc (after compinit), or save it as _perfprov in a directory of $fpath.

# Host and group names from 'perfprov __complete hosts' for -limit (after a comma, the next one),
# or files after an @.
_perfprov_hosts() {
    local -a names
    compset -P '*,'
    if compset -P '@'; then
        _files
        return
    fi
    names=(${(f)"$(${_perfprov_prog} ` + completeCommand + ` hosts ${words[1,CURRENT-1]} 2>/dev/null)"})
    compadd -a names
}

_perfprov() {
    local _perfprov_prog=${words[1]}
    local -a commands args
    commands=(
`

// zshCompletion is the zsh script: _describe for the commands, _arguments for each command's
// flags (a repeatable one may be given again) and its arguments.
func zshCompletion(cmds []completionCommand) string {
	var b strings.Builder
	b.WriteString(zshHead)
	for _, c := range cmds {
		fmt.Fprintf(&b, "        %s\n", shQuote(c.name+":"+c.synopsis))
	}
	b.WriteString(`    )
    if ((CURRENT == 2)); then
        _describe -t commands 'perfprov command' commands
        return
    fi
    case ${words[2]} in
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n        args=(\n", c.name)
		for _, f := range c.flags {
			spec := "-" + f.name + "[" + zshDescription(f.usage) + "]"
			if f.repeatable {
				spec = "*" + spec
			}
			if f.takesValue {
				switch f.kind {
				case valueHosts:
					spec += ":hosts or groups:_perfprov_hosts"
				case valueFile:
					spec += ":file:_files"
				case valueDir:
					spec += ":directory:_files -/"
				default:
					spec += ":value: "
				}
			}
			fmt.Fprintf(&b, "            %s\n", shQuote(spec))
		}
		switch c.args {
		case "shell":
			fmt.Fprintf(&b, "            %s\n", shQuote(":shell:("+strings.Join(completionShells, " ")+")"))
		case valueFile:
			fmt.Fprintf(&b, "            %s\n", shQuote("*:path:_files"))
		}
		b.WriteString("        ) ;;\n")
	}
	b.WriteString(`    *) return 1 ;;
    esac
    shift words
    ((CURRENT--))
    _arguments -S $args
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _perfprov "$@"
else
    compdef _perfprov perfprov
fi
`)
	return b.String()
}

// zshDescription makes a usage safe inside _arguments' [...]: no brackets, colons escaped.
func zshDescription(s string) string {
	return strings.NewReplacer("[", "(", "]", ")", ":", `\:`).Replace(s)
}

const fishHead = `# fish completion for perfprov, written by 'perfprov completion fish'. Load it with
#   perfprov completion fish | source
# in ~/.config/fish/config.fish, or save it as ~/.config/fish/completions/perfprov.fish.

# Whether the command line's subcommand is $argv[1].
function __perfprov_using
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and test "$tokens[2]" = "$argv[1]"
end

# Host and group names from 'perfprov __complete hosts' for -limit, as the next item of a
# comma-separated list, or files after an @.
function __perfprov_hosts
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    # Both always one string (maybe empty): an empty list would make $prefix$n empty too.
    set -l prefix (string replace -r '[^,]*$' '' -- $cur)
    set -l word (string replace -r '^.*,' '' -- $cur)
    if string match -q '@*' -- $word
        for f in (__fish_complete_path (string sub -s 2 -- $word))
            echo $prefix@$f
        end
        return
    end
    for n in ($tokens[1] ` + completeCommand + ` hosts $tokens[2..-1] 2>/dev/null)
        echo $prefix$n
    end
end

complete -c perfprov -f
`

// fishCompletion is the fish script: a complete line per command and per flag (-o: Go's
// single-dash long flags).
func fishCompletion(cmds []completionCommand) string {
	var b strings.Builder
	b.WriteString(fishHead)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c perfprov -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.synopsis))
	}
	for _, c := range cmds {
		cond := fishQuote("__perfprov_using " + c.name)
		b.WriteString("\n")
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c perfprov -n %s -o %s", cond, f.name)
			if f.takesValue {
				switch f.kind {
				case valueHosts:
					line += " -r -f -a '(__perfprov_hosts)'"
				case valueFile:
					line += " -r -F"
				case valueDir:
					line += " -r -f -a '(__fish_complete_directories)'"
				default:
					line += " -r -f"
				}
			}
			fmt.Fprintf(&b, "%s -d %s\n", line, fishQuote(f.usage))
		}
		switch c.args {
		case "shell":
			fmt.Fprintf(&b, "complete -c perfprov -n %s -a %s\n", cond, fishQuote(strings.Join(completionShells, " ")))
		case valueFile:
			fmt.Fprintf(&b, "complete -c perfprov -n %s -F\n", cond)
		}
	}
	return b.String()
}
